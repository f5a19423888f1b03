package sluice

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

const apiPrefix = "/2018-06-01/runtime"

// client speaks the Lambda Runtime API over one kept-alive connection, on the calling goroutine:
// a request is written and its answer read by the caller itself, with net/http's own encoder and
// parser but without its transport, whose two goroutines per connection and the hand-offs between
// them cost a small invocation most of its CPU in a Go process (the scheduler's wake-ups).
type client struct {
	addr string
	base string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newClient(addr string) *client {
	// No proxy (the API is local whatever HTTP_PROXY says), no timeout (/next waits).
	return &client{addr: addr, base: "http://" + addr + apiPrefix}
}

// do sends req and returns its answer's status, header and body. A kept connection the API
// closed while idle is dialled again once, before any answer was read.
func (c *client) do(req *http.Request) (*http.Response, []byte, error) {
	reused := c.conn != nil
	resp, body, err := c.exchange(req)
	if err != nil && reused && req.Context().Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, nil, err
			}
		}
		resp, body, err = c.exchange(req)
	}
	return resp, body, err
}

// exchange writes req on the connection, dialling it when there is none, and reads the answer.
// Any failure drops the connection; ending req's context breaks a wait for the answer.
func (c *client) exchange(req *http.Request) (resp *http.Response, body []byte, err error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return nil, nil, err
		}
		var rw io.ReadWriter = conn
		if raw, ok := newRawIO(conn); ok {
			rw = raw
		}
		c.conn, c.r, c.w = conn, bufio.NewReader(rw), bufio.NewWriter(rw)
	}
	conn := c.conn
	defer func() {
		if err != nil || resp != nil && resp.Close {
			_ = conn.Close()
			c.conn = nil
		}
	}()
	stop := context.AfterFunc(req.Context(), func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := req.Write(c.w); err != nil {
		return nil, nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, nil, err
	}
	resp, err = http.ReadResponse(c.r, req)
	if err != nil {
		return nil, nil, errors.Join(err, req.Context().Err())
	}
	defer resp.Body.Close()
	if body, err = io.ReadAll(resp.Body); err != nil {
		return nil, nil, errors.Join(err, req.Context().Err())
	}
	return resp, body, nil
}

// invocation is one answer of /invocation/next.
type invocation struct {
	id       string
	deadline time.Time
	arn      string
	traceID  string
	event    map[string]string
	payload  []byte
}

func (c *client) next(ctx context.Context) (*invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/invocation/next", nil)
	if err != nil {
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	resp, body, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("next invocation: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	inv := &invocation{
		id:      resp.Header.Get("Lambda-Runtime-Aws-Request-Id"),
		arn:     resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
		traceID: resp.Header.Get("Lambda-Runtime-Trace-Id"),
		payload: body,
	}
	if inv.id == "" {
		return nil, fmt.Errorf("next invocation: no Lambda-Runtime-Aws-Request-Id")
	}
	ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("next invocation: deadline: %w", err)
	}
	inv.deadline = time.UnixMilli(ms)
	if attrs := resp.Header.Get("Sluice-Event-Attributes"); attrs != "" {
		_ = json.Unmarshal([]byte(attrs), &inv.event) // attributes are a courtesy: never fail on them
	}
	return inv, nil
}

// respond posts the handler's result.
func (c *client) respond(ctx context.Context, id string, body []byte) error {
	return c.post(ctx, "/invocation/"+id+"/response", "", body)
}

// errorBody is the Lambda shape of a function error.
type errorBody struct {
	Message string   `json:"errorMessage"`
	Type    string   `json:"errorType"`
	Trace   []string `json:"stackTrace,omitempty"`
}

// fail posts a function error.
func (c *client) fail(ctx context.Context, id string, e errorBody) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode error: %w", err)
	}
	return c.post(ctx, "/invocation/"+id+"/error", e.Type, b)
}

// initError reports that the function could not start.
func (c *client) initError(ctx context.Context, e errorBody) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode error: %w", err)
	}
	return c.post(ctx, "/init/error", e.Type, b)
}

func (c *client) post(ctx context.Context, path, errorType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, msg, err := c.do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return &statusError{path: path, status: resp.StatusCode, msg: string(bytes.TrimSpace(msg[:min(len(msg), 4<<10)]))}
	}
	return nil
}

// statusError is a post the Runtime API answered but refused (an oversized response, an
// invocation no longer in flight): the loop goes on.
type statusError struct {
	path   string
	status int
	msg    string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("post %s: status %d: %s", e.path, e.status, e.msg)
}
