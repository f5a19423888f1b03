package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// client is a minimal runtime (what a bootstrap does), driven from the test.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newServer(t *testing.T) (*Server, *client) {
	t.Helper()
	s, err := New(Options{Function: "echo", Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &client{t: t, base: "http://" + s.Addr() + prefix, hc: &http.Client{}}
}

func (c *client) do(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

type answer struct {
	r   Result
	err error
}

func invokeAsync(ctx context.Context, s *Server, inv *Invocation) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		r, err := s.Invoke(ctx, inv)
		ch <- answer{r, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("invoke did not return")
		return answer{}
	}
}

func TestNextAndResponse(t *testing.T) {
	s, c := newServer(t)
	deadline := time.Now().Add(time.Minute)
	inv := &Invocation{
		ID: "req-1", Deadline: deadline, Payload: []byte(`{"name":"Ada"}`),
		ClientContext: "cc", Attributes: map[string]string{"id": "ev-1", "type": "t", "subject": "caf\u00e9 \U0001F600"},
	}
	ch := invokeAsync(context.Background(), s, inv)
	resp, body := c.do("GET", "/invocation/next", nil)
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not closed after /next")
	}
	if resp.StatusCode != 200 || string(body) != `{"name":"Ada"}` {
		t.Fatalf("next = %d %s", resp.StatusCode, body)
	}
	h := resp.Header
	if h.Get("Lambda-Runtime-Aws-Request-Id") != "req-1" ||
		h.Get("Lambda-Runtime-Deadline-Ms") != strings.TrimSpace(jsonNum(deadline.UnixMilli())) ||
		h.Get("Lambda-Runtime-Invoked-Function-Arn") != "arn:aws:lambda:local:000000000000:function:echo:3" ||
		!strings.HasPrefix(h.Get("Lambda-Runtime-Trace-Id"), "Root=1-") ||
		h.Get("Lambda-Runtime-Client-Context") != "cc" || h.Get("Lambda-Runtime-Cognito-Identity") != "" {
		t.Fatalf("headers = %v", h)
	}
	raw := h.Get("Sluice-Event-Attributes")
	for _, c := range []byte(raw) {
		if c < 0x20 || c >= 0x7f {
			t.Fatalf("attributes header not ASCII: %q", raw)
		}
	}
	var attrs map[string]string
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil || attrs["subject"] != "caf\u00e9 \U0001F600" || attrs["id"] != "ev-1" {
		t.Fatalf("attributes = %q (%v)", raw, err)
	}
	resp, _ = c.do("POST", "/invocation/req-1/response", []byte(`"hi"`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response status = %d", resp.StatusCode)
	}
	a := wait(t, ch)
	if a.err != nil || string(a.r.Payload) != `"hi"` || a.r.Error != nil {
		t.Fatalf("invoke = %+v", a)
	}
	// A second answer for the same id, and answers for unknown ids, are refused.
	for _, p := range []string{"/invocation/req-1/response", "/invocation/nope/response", "/invocation/req-1/error"} {
		if resp, _ := c.do("POST", p, []byte(`{}`)); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST %s = %d, want 400", p, resp.StatusCode)
		}
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestErrorAnswer(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "r2", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	resp, _ := c.do("POST", "/invocation/r2/error",
		[]byte(`{"errorMessage":"boom","errorType":"ValueError","stackTrace":["a","b"]}`),
		"Lambda-Runtime-Function-Error-Type", "Unhandled")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	a := wait(t, ch)
	if a.err != nil || a.r.Error == nil || a.r.Error.Type != "ValueError" || a.r.Error.Message != "boom" || len(a.r.Error.Trace) != 2 {
		t.Fatalf("invoke = %+v %+v", a, a.r.Error)
	}
	// A body that is not JSON still fails the invocation, typed from the header.
	ch = invokeAsync(context.Background(), s, &Invocation{ID: "r3", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	c.do("POST", "/invocation/r3/error", []byte(`oops`), "Lambda-Runtime-Function-Error-Type", "Custom.Bad")
	a = wait(t, ch)
	if a.r.Error == nil || a.r.Error.Type != "Custom.Bad" || a.r.Error.Message != "oops" {
		t.Fatalf("invoke = %+v", a.r.Error)
	}
}

func TestResponseTooLarge(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "big", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	resp, _ := c.do("POST", "/invocation/big/response", make([]byte, MaxResponse+1))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", resp.StatusCode)
	}
	a := wait(t, ch)
	if a.err != nil || a.r.Error == nil || a.r.Error.Type != "Function.ResponseSizeTooLarge" {
		t.Fatalf("invoke = %+v", a)
	}
}

func TestAbandonedInvocationRefusesLateAnswer(t *testing.T) {
	s, c := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := invokeAsync(ctx, s, &Invocation{ID: "late", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	cancel()
	if a := wait(t, ch); !errors.Is(a.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", a.err)
	}
	if resp, _ := c.do("POST", "/invocation/late/response", []byte(`1`)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("late response = %d, want 400", resp.StatusCode)
	}
	// The server stays usable.
	ch = invokeAsync(context.Background(), s, &Invocation{ID: "again", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	c.do("POST", "/invocation/again/response", []byte(`2`))
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != "2" {
		t.Fatalf("invoke = %+v", a)
	}
}

func TestBusy(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "one", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil) // "one" is now in flight
	if _, err := s.Invoke(context.Background(), &Invocation{ID: "two"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second invoke err = %v, want ErrBusy", err)
	}
	c.do("POST", "/invocation/one/response", nil)
	if a := wait(t, ch); a.err != nil {
		t.Fatal(a.err)
	}
}

func TestInitError(t *testing.T) {
	s, c := newServer(t)
	resp, _ := c.do("POST", "/init/error", []byte(`{"errorMessage":"no module x","errorType":"Runtime.ImportModuleError"}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	select {
	case e := <-s.InitError():
		if e.Type != "Runtime.ImportModuleError" || e.Message != "no module x" {
			t.Fatalf("init error = %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no init error delivered")
	}
}

func TestInitErrorAfterStartIsRefused(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "x", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	if resp, _ := c.do("POST", "/init/error", []byte(`{}`)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", resp.StatusCode)
	}
	c.do("POST", "/invocation/x/response", nil)
	wait(t, ch)
}

func TestCloseUnblocks(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "c", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	// A bootstrap waiting on /next is released too.
	next := make(chan int, 1)
	go func() {
		resp, err := c.hc.Get(c.base + "/invocation/next")
		if err != nil {
			next <- -1
			return
		}
		resp.Body.Close()
		next <- resp.StatusCode
	}()
	_ = s.Close()
	if a := wait(t, ch); !errors.Is(a.err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", a.err)
	}
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		t.Fatal("/next not released by Close")
	}
	if _, err := s.Invoke(context.Background(), &Invocation{ID: "d"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after close err = %v", err)
	}
	_ = s.Close() // idempotent
}

func TestRouting(t *testing.T) {
	_, c := newServer(t)
	cases := []struct {
		method, path string
		status       int
	}{
		{"POST", "/invocation/next", http.StatusMethodNotAllowed},
		{"GET", "/invocation/x/response", http.StatusMethodNotAllowed},
		{"POST", "/invocation/x/other", http.StatusNotFound},
		{"GET", "/nope", http.StatusNotFound},
	}
	for _, tc := range cases {
		resp, body := c.do(tc.method, tc.path, nil)
		var e FunctionError
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Type == "" {
			t.Errorf("%s %s = %d %s, want %d with a JSON error", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
	}
}

func TestParseErrorTraceAsString(t *testing.T) {
	e := parseError([]byte(`{"errorType":"E","errorMessage":"m","stackTrace":"line"}`), "")
	if e.Type != "E" || len(e.Trace) != 1 || e.Trace[0] != "line" {
		t.Fatalf("parseError = %+v", e)
	}
	if e := parseError(nil, ""); e.Type != "Runtime.Unknown" {
		t.Fatalf("empty body type = %q", e.Type)
	}
}

func TestSpecialize(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := &client{t: t, base: "http://" + s.Addr() + prefix, hc: &http.Client{}}
	got := make(chan []byte, 1)
	go func() {
		resp, body := c.do("GET", "/sluice/specialize", nil)
		if resp.StatusCode != 200 {
			t.Errorf("specialize status %d: %s", resp.StatusCode, body)
		}
		got <- body
	}()
	select {
	case <-s.Waiting():
	case <-time.After(5 * time.Second):
		t.Fatal("Waiting not closed by /sluice/specialize")
	}
	sp := &Specialization{Handler: "main.handler", TaskRoot: "/var/task", Env: map[string]string{"A": "b"},
		FunctionName: "echo", FunctionVersion: 4, MemoryMB: 256}
	if err := s.Specialize(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	var back Specialization
	if err := json.Unmarshal(<-got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Handler != sp.Handler || back.TaskRoot != sp.TaskRoot || back.Env["A"] != "b" || back.FunctionVersion != 4 || back.MemoryMB != 256 {
		t.Fatalf("specialization = %+v", back)
	}
	if err := s.Specialize(context.Background(), sp); !errors.Is(err, ErrSpecialized) {
		t.Fatalf("second Specialize = %v, want ErrSpecialized", err)
	}
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "a", Deadline: time.Now().Add(time.Minute)})
	resp, _ := c.do("GET", "/invocation/next", nil)
	if arn := resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"); arn != "arn:aws:lambda:local:000000000000:function:echo:4" {
		t.Fatalf("arn after specialization = %q", arn)
	}
	c.do("POST", "/invocation/a/response", []byte(`1`))
	if a := <-ch; a.err != nil || string(a.r.Payload) != "1" {
		t.Fatalf("invoke = %+v", a)
	}
}

func TestSpecializeUnblocksOnClose(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Specialize(context.Background(), &Specialization{}) }()
	_ = s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Specialize after Close = %v", err)
	}
}

// With Concurrency 3, three invocations are handed to three pending /next requests, each on its
// own connection, and each answer reaches its own caller whatever the order; a fourth is refused.
func TestConcurrentInvocations(t *testing.T) {
	s, err := New(Options{Function: "echo", Version: 1, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ids := []string{"a", "b", "c"}
	answers := map[string]<-chan answer{}
	for _, id := range ids {
		answers[id] = invokeAsync(context.Background(), s, &Invocation{ID: id, Deadline: time.Now().Add(time.Minute), Payload: []byte(`"` + id + `"`)})
	}
	got := map[string]string{} // id → payload, as three separate runtimes' loops see them
	for range ids {
		c := &client{t: t, base: "http://" + s.Addr() + prefix, hc: &http.Client{Transport: &http.Transport{}}}
		resp, body := c.do("GET", "/invocation/next", nil)
		got[resp.Header.Get("Lambda-Runtime-Aws-Request-Id")] = string(body)
	}
	for _, id := range ids {
		if got[id] != `"`+id+`"` {
			t.Fatalf("next handed %q for %s; all: %v", got[id], id, got)
		}
	}
	if _, err := s.Invoke(context.Background(), &Invocation{ID: "d"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth invoke err = %v, want ErrBusy", err)
	}
	c := &client{t: t, base: "http://" + s.Addr() + prefix, hc: &http.Client{}}
	for _, id := range []string{"c", "a", "b"} { // answered out of order
		if resp, _ := c.do("POST", "/invocation/"+id+"/response", []byte(`"done `+id+`"`)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("response %s = %d", id, resp.StatusCode)
		}
	}
	for _, id := range ids {
		if a := wait(t, answers[id]); a.err != nil || string(a.r.Payload) != `"done `+id+`"` {
			t.Fatalf("invoke %s = %+v %v", id, a.r, a.err)
		}
	}
}
