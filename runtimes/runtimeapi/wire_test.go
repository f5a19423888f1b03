package runtimeapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

func TestChunkedAndExpectContinue(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "ch", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	// A body of unknown length goes chunked; Expect: 100-continue waits for the interim answer.
	req, _ := http.NewRequest("POST", c.base+"/invocation/ch/response", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)))
	req.Header.Set("Expect", "100-continue")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(resp.TransferEncoding) != 0 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != `{"a":1}` {
		t.Fatalf("invoke = %+v", a)
	}
}

// dial opens a raw connection to s, closed when the test ends, and its reader.
func dial(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, bufio.NewReader(conn)
}

func TestOneConnectionServesManyInvocations(t *testing.T) {
	s, c := newServer(t)
	conn, br := dial(t, s)
	for n := range 50 {
		id := fmt.Sprintf("k%d", n)
		ch := invokeAsync(context.Background(), s, &Invocation{ID: id, Deadline: time.Now().Add(time.Minute), Payload: []byte(id)})
		fmt.Fprintf(conn, "GET %s/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n", prefix)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != id || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != id {
			t.Fatalf("next %d = %s %v", n, body, resp.Header)
		}
		fmt.Fprintf(conn, "POST %s/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", prefix, id, len(id), id)
		resp, err = http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("response %d: %v %v", n, resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if a := wait(t, ch); a.err != nil || string(a.r.Payload) != id {
			t.Fatalf("invoke %d = %+v", n, a)
		}
	}
	_ = c
}

// A bootstrap that pipelines an answer and its next /next gets both answers in one write, once
// the next invocation is handed in: nothing reaches it while it waits, so it wakes once per
// invocation. One that does not pipeline has its 202 at once.
func TestPipelinedAnswerAndNextLeaveInOneWrite(t *testing.T) {
	s, _ := newServer(t)
	conn, br := dial(t, s)
	next := func(id string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != id {
			t.Fatalf("next = %d %s, want %s", resp.StatusCode, body, id)
		}
	}
	accepted := func() {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("answer: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "p1", Deadline: time.Now().Add(time.Minute), Payload: []byte("p1")})
	fmt.Fprintf(conn, "GET %s/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n", prefix)
	next("p1")

	fmt.Fprintf(conn, "POST %s/invocation/p1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\np1"+
		"GET %s/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n", prefix, prefix)
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != "p1" {
		t.Fatalf("invoke = %+v", a)
	}
	_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := br.Peek(1); err == nil {
		t.Fatal("the pipelined answer's 202 was sent while no invocation was handed in")
	}
	_ = conn.SetReadDeadline(time.Time{})
	ch = invokeAsync(context.Background(), s, &Invocation{ID: "p2", Deadline: time.Now().Add(time.Minute), Payload: []byte("p2")})
	accepted()
	if br.Buffered() == 0 {
		t.Fatal("the next invocation did not come in the 202's write")
	}
	next("p2")

	fmt.Fprintf(conn, "POST %s/invocation/p2/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\np2", prefix)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	accepted()
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != "p2" {
		t.Fatalf("invoke = %+v", a)
	}
}

func TestMalformedRequest(t *testing.T) {
	s, _ := newServer(t)
	for _, raw := range []string{
		"NONSENSE\r\n\r\n",
		"GET /x SPDY/3\r\n\r\n",
		"POST " + prefix + "/init/error HTTP/1.1\r\nContent-Length: -4\r\n\r\n",
		"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
	} {
		conn, br := dial(t, s)
		_, _ = io.WriteString(conn, raw)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusBadRequest || !resp.Close {
			t.Errorf("%q: %v %v, want 400 and close", raw, resp, err)
		}
	}
}

func TestCloseJoinsGoroutines(t *testing.T) {
	baseline := runtime.NumGoroutine()
	s, err := New(Options{Function: "f"})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		fmt.Fprintf(conn, "GET %s/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n", prefix)
	}
	<-s.Ready()
	_ = s.Close()
	for _, c := range conns {
		c.Close()
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Errorf("%d goroutines after Close, %d before New", n, baseline)
		}
		return nil
	})
}

func TestAnyIDRoundTrips(t *testing.T) {
	s, c := newServer(t)
	id := "bucket/key with space?x=1%"
	ch := invokeAsync(context.Background(), s, &Invocation{ID: id, Deadline: time.Now().Add(time.Minute)})
	resp, _ := c.do("GET", "/invocation/next", nil)
	wire := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if wire != WireID(id) || strings.ContainsAny(wire, "/ ?") {
		t.Fatalf("wire id = %q", wire)
	}
	if resp, _ := c.do("POST", "/invocation/"+wire+"/response", []byte(`1`)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != "1" {
		t.Fatalf("invoke = %+v", a)
	}
	if WireID("7f3c-uuid_1.2~x") != "7f3c-uuid_1.2~x" {
		t.Fatal("a plain id was escaped")
	}
}

func TestServesAGivenListener(t *testing.T) {
	sock := t.TempDir() + "/runtime.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Function: "f", Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != sock {
		t.Fatalf("Addr = %q, want %q", s.Addr(), sock)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	c := &client{t: t, base: "http://runtime" + prefix, hc: hc}
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "u", Deadline: time.Now().Add(time.Minute), Payload: []byte(`"x"`)})
	if _, body := c.do("GET", "/invocation/next", nil); string(body) != `"x"` {
		t.Fatalf("next = %s", body)
	}
	c.do("POST", "/invocation/u/response", []byte(`"y"`))
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != `"y"` {
		t.Fatalf("invoke = %+v", a)
	}
}
