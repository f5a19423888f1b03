package runtimeapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Everything a function sends to its Runtime API server is hostile input: the request lines,
// headers, bodies (sized or chunked) and trailers of any number of requests on one connection.

// FuzzReadRequest reads requests the way a connection does, one after the other, and checks
// what the parser hands on: parse errors are errMalformed or the end of the input, a body never
// exceeds MaxResponse, and header lines never cost more than their budgets.
func FuzzReadRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(raw), 4<<10)
		bw := bufio.NewWriter(io.Discard)
		var req request
		for range 16 {
			err := readHead(br, &req)
			if err != nil {
				if !errors.Is(err, errMalformed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("readHead error %v is neither errMalformed nor the end of the input", err)
				}
				return
			}
			if req.contentLength < -1 {
				t.Fatalf("content length %d", req.contentLength)
			}
			if req.long > maxLongLines {
				t.Fatalf("%d bytes of long header lines accepted, the budget is %d", req.long, maxLongLines)
			}
			if strings.IndexByte(req.pathStr, '?') >= 0 || strings.IndexByte(req.method, ' ') >= 0 || req.method == "" {
				t.Fatalf("request line split into method %q, path %q", req.method, req.pathStr)
			}
			body, keep, err := readBody(br, bw, &req)
			if len(body) > MaxResponse {
				t.Fatalf("body of %d bytes, the limit is %d", len(body), MaxResponse)
			}
			if err == nil && !req.chunked && req.contentLength > 0 && int64(len(body)) != req.contentLength {
				t.Fatalf("body of %d bytes for Content-Length %d", len(body), req.contentLength)
			}
			if err != nil && body != nil {
				t.Fatalf("a body (%d bytes) beside the error %v", len(body), err)
			}
			if !keep {
				return
			}
		}
	})
}

// fakeConn is a connection whose client sent in and reads out.
type fakeConn struct {
	in  io.Reader
	out bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "runtime", Net: "unix"} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "function", Net: "unix"} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// bareServer is a Server without a listener or goroutines.
func bareServer() *Server {
	s := &Server{
		next:     make(chan *Invocation),
		spec:     make(chan []byte),
		waiting:  make(chan struct{}),
		conc:     2,
		inflight: map[string]chan Result{},
		ready:    make(chan struct{}),
		initErr:  make(chan *FunctionError, 1),
		closed:   make(chan struct{}),
		conns:    map[net.Conn]struct{}{},
	}
	s.setARN("fuzz", 1)
	return s
}

// fuzzServer is a Server without a listener whose invocations "a" and "b" are always in flight
// and whose /next and /sluice/specialize are always answered at once, so that any sequence of
// requests on one connection runs to its end.
func fuzzServer() (*Server, func() []Result) {
	s := bareServer()
	var (
		mu      sync.Mutex
		results []Result
		wg      sync.WaitGroup
	)
	done := make(chan struct{})
	refill := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, id := range []string{"a", "b"} {
			if _, ok := s.inflight[id]; !ok {
				ch := make(chan Result, 1)
				s.inflight[id] = ch
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case r := <-ch:
						mu.Lock()
						results = append(results, r)
						mu.Unlock()
					case <-done:
					}
				}()
			}
		}
	}
	refill()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case s.next <- &Invocation{ID: "a", Deadline: time.Unix(1700000000, 0), Payload: []byte(`{"k":1}`),
				Attributes: map[string]string{"id": "a"}}:
				refill()
			case <-done:
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case s.spec <- []byte(`{"handler":"main.handler"}`):
			case <-done:
				return
			}
		}
	}()
	return s, func() []Result {
		close(done)
		close(s.closed)
		wg.Wait()
		return results
	}
}

// answerStatus are the statuses the server answers with.
var answerStatus = map[int]bool{100: true, 200: true, 202: true, 400: true, 403: true, 404: true, 405: true, 413: true, 500: true}

// FuzzServeConn runs a whole connection of the server over arbitrary bytes: it ends, its output
// is a sequence of well-formed HTTP responses with the statuses the server uses, every error
// body is the Lambda error shape, and every answer handed to an invocation is bounded and, when
// it is an error, typed.
func FuzzServeConn(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, stop := fuzzServer()
		c := &fakeConn{in: bytes.NewReader(raw)}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		served := make(chan struct{})
		go func() {
			s.serveConn(c)
			close(served)
		}()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection was not done 10s after its input ended")
		}
		results := stop()
		if len(s.conns) != 0 {
			t.Fatal("the connection was not forgotten")
		}
		for _, r := range results {
			if len(r.Payload) > MaxResponse {
				t.Fatalf("a payload of %d bytes", len(r.Payload))
			}
			if r.Error != nil && r.Error.Type == "" {
				t.Fatalf("an error without a type: %+v", r.Error)
			}
		}
		br := bufio.NewReader(bytes.NewReader(c.out.Bytes()))
		for {
			if _, err := br.Peek(1); err == io.EOF {
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("the server wrote a malformed response: %v\n%q", err, c.out.Bytes())
			}
			if !answerStatus[resp.StatusCode] {
				t.Fatalf("status %d", resp.StatusCode)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("response body: %v", err)
			}
			if resp.StatusCode >= 400 {
				var e struct {
					Type    *string `json:"errorType"`
					Message *string `json:"errorMessage"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Type == nil || e.Message == nil {
					t.Fatalf("error body %q: %v", body, err)
				}
				if !isPrintableASCII(body) {
					t.Fatalf("error body %q is not printable ASCII", body)
				}
			}
		}
	})
}

// FuzzParseError reads /error and /init/error bodies and streamed error trailers: the result is
// always a typed error, and written back in the Lambda shape it is printable ASCII JSON that
// reads back as the same type and message.
func FuzzParseError(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, headerType string) {
		parsed := parseError(body, headerType)
		var raw struct {
			Type string `json:"errorType"`
		}
		if headerType != "" && parsed.Type != headerType && (json.Unmarshal(body, &raw) != nil || raw.Type != parsed.Type) {
			t.Fatalf("type %q, want the header's %q or the body's", parsed.Type, headerType)
		}
		for _, e := range []*FunctionError{parsed, trailerError(headerType, string(body))} {
			if e == nil || e.Type == "" {
				t.Fatalf("untyped error %+v", e)
			}
			out := appendError(nil, e.Type, e.Message)
			if !isPrintableASCII(out) {
				t.Fatalf("appendError wrote %q", out)
			}
			var back FunctionError
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("appendError wrote %q: %v", out, err)
			}
			if back.Type != asRunes(e.Type) || back.Message != asRunes(e.Message) {
				t.Fatalf("round trip: %+v, want %+v", back, e)
			}
		}
	})
}

// FuzzNextHeaders writes the answer of /next for hostile event attributes and ids (a CloudEvent
// comes from outside): whatever they hold, the answer is one well-formed response with exactly
// the Runtime API headers, and the attributes and ids read back.
func FuzzNextHeaders(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, traceID, clientContext, key, value string) {
		if id == "" {
			return // Invoke refuses an empty id
		}
		s := bareServer()
		inv := &Invocation{ID: id, Deadline: time.Unix(1700000000, 0), Payload: []byte(`{}`), TraceID: traceID,
			ClientContext: clientContext, Attributes: map[string]string{key: value, "id": id}}
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		go func() { s.next <- inv }()
		if !s.serveNext(bw) {
			t.Fatal("serveNext failed")
		}
		_ = bw.Flush()
		resp, err := http.ReadResponse(bufio.NewReader(&out), nil)
		if err != nil {
			t.Fatalf("malformed answer %q: %v", out.Bytes(), err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "{}" {
			t.Fatalf("payload %q", body)
		}
		want := map[string]bool{"Content-Type": true, "Content-Length": true, "Lambda-Runtime-Aws-Request-Id": true,
			"Lambda-Runtime-Deadline-Ms": true, "Lambda-Runtime-Invoked-Function-Arn": true, "Lambda-Runtime-Trace-Id": true,
			"Lambda-Runtime-Client-Context": true, "Sluice-Event-Attributes": true}
		for k, vs := range resp.Header {
			if !want[k] || len(vs) != 1 {
				t.Fatalf("header %q: %q\n%q", k, vs, out.Bytes())
			}
		}
		if got := resp.Header.Get("Lambda-Runtime-Aws-Request-Id"); got != WireID(id) {
			t.Fatalf("request id %q, want %q", got, WireID(id))
		}
		raw := resp.Header.Get("Sluice-Event-Attributes")
		if !isPrintableASCII([]byte(raw)) {
			t.Fatalf("attributes %q are not printable ASCII", raw)
		}
		var attrs map[string]string
		if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
			t.Fatalf("attributes %q: %v", raw, err)
		}
		if attrs["id"] != asRunes(id) || key != "id" && attrs[asRunes(key)] != asRunes(value) {
			t.Fatalf("attributes %q, want %q: %q", attrs, key, value)
		}
	})
}

// asRunes is s with every byte that is not UTF-8 replaced by U+FFFD, as JSON writers do.
func asRunes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

func isPrintableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Found by FuzzNextHeaders: a trace id or client context holding a control character other than
// CR, LF or NUL went out as is, and Go's HTTP client (aws-lambda-go, the sluice Go SDK) refuses
// the whole answer to /next.
func TestNextHeaderControlCharacters(t *testing.T) {
	s := bareServer()
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	go func() {
		s.next <- &Invocation{ID: "x", Deadline: time.Unix(1700000000, 0), TraceID: "a\x01b\x7fc\td", ClientContext: "\x1b[31m"}
	}()
	if !s.serveNext(bw) {
		t.Fatal("serveNext failed")
	}
	_ = bw.Flush()
	resp, err := http.ReadResponse(bufio.NewReader(&out), nil)
	if err != nil {
		t.Fatalf("answer %q: %v", out.Bytes(), err)
	}
	if got := resp.Header.Get("Lambda-Runtime-Trace-Id"); got != "a b c\td" {
		t.Fatalf("trace id %q", got)
	}
	if got := resp.Header.Get("Lambda-Runtime-Client-Context"); got != "[31m" {
		t.Fatalf("client context %q", got)
	}
}

// A chunked body nobody wants that is larger than MaxResponse is not read to its end: the
// connection closes rather than read the rest of the body as trailers and further requests.
func TestOversizedChunkedBodyClosesConnection(t *testing.T) {
	var raw bytes.Buffer
	raw.WriteString("GET " + pathNext + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range MaxResponse>>20 + 1 {
		fmt.Fprintf(&raw, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	// The tail of the body: a blank trailer line and a request of its own.
	raw.WriteString("2\r\n\r\n\r\n" + "GET /smuggled HTTP/1.1\r\n\r\n0\r\n\r\n")
	br := bufio.NewReader(&raw)
	var req request
	if err := readHead(br, &req); err != nil {
		t.Fatal(err)
	}
	if discardBody(br, &req) {
		t.Fatal("the connection goes on after an unread body")
	}
}
