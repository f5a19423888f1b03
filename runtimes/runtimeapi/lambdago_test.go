package runtimeapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// aws-lambda-go posts every error with an X-Ray cause header of up to 1 MiB: a header line
// longer than the read buffer must not cost the error report.
func TestLongHeaderLineWithError(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "x1", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	cause := `{"working_directory":"/var/task","exceptions":[{"type":"errorString","message":"` + strings.Repeat("m", 200<<10) + `"}]}`
	resp, _ := c.do("POST", "/invocation/x1/error", []byte(`{"errorMessage":"boom","errorType":"errorString"}`),
		"Lambda-Runtime-Function-Xray-Error-Cause", cause, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if a := wait(t, ch); a.err != nil || a.r.Error == nil || a.r.Error.Type != "errorString" || a.r.Error.Message != "boom" {
		t.Fatalf("invoke = %+v", a)
	}
	// The connection stays usable, and lines beyond the budget are refused.
	ch = invokeAsync(context.Background(), s, &Invocation{ID: "x2", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	huge := strings.Repeat("h", maxLongLines+1)
	if resp, _ := c.do("POST", "/invocation/x2/response", []byte(`1`), "X-Big", huge); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("oversized header line: status %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/invocation/x2/response", []byte(`2`)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after an oversized header: status %d", resp.StatusCode)
	}
	if a := wait(t, ch); a.err != nil || string(a.r.Payload) != "2" {
		t.Fatalf("invoke = %+v", a)
	}
}

// errReader fails after its content, as a response reader of aws-lambda-go may.
type errReader struct{ r io.Reader }

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("stream broke")
	}
	return n, err
}

// A streamed (chunked) response whose trailers report an error fails the invocation.
func TestChunkedResponseErrorTrailers(t *testing.T) {
	s, c := newServer(t)
	ch := invokeAsync(context.Background(), s, &Invocation{ID: "t1", Deadline: time.Now().Add(time.Minute)})
	c.do("GET", "/invocation/next", nil)
	body := `{"errorMessage":"` + strings.Repeat("e", 8<<10) + `","errorType":"StreamError"}`
	trailer := http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	src := &errReader{r: strings.NewReader(`{"partial":`)}
	req, _ := http.NewRequest("POST", c.base+"/invocation/t1/response", readerFunc(func(p []byte) (int, error) {
		n, err := src.Read(p)
		if err != nil && err != io.EOF {
			trailer.Set("Lambda-Runtime-Function-Error-Type", "StreamError")
			trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(body)))
			return n, io.EOF
		}
		return n, err
	}))
	req.Trailer = trailer
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	a := wait(t, ch)
	if a.err != nil || a.r.Error == nil || a.r.Error.Type != "StreamError" || len(a.r.Error.Message) != 8<<10 {
		t.Fatalf("invoke = %+v", a)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// aws-lambda-go reports a panic's stack as frames; each becomes one line.
func TestParseErrorFrames(t *testing.T) {
	e := parseError([]byte(`{"errorMessage":"x","errorType":"Runtime.Panic","stackTrace":[{"path":"main.go","line":7,"label":"main.handler"}]}`), "")
	if !slices.Equal(e.Trace, []string{"main.handler (main.go:7)"}) {
		t.Fatalf("trace = %q", e.Trace)
	}
}
