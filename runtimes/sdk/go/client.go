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

	"sluice.dev/sdk/rawio"
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

// reply is one answer of the Runtime API: its status and header, and its body.
type reply struct {
	resp *http.Response
	body []byte
}

// do sends reqs, which share a context, in one write (HTTP/1.1 pipelining) and returns their
// answers in order. A kept connection the API closed while idle is dialled again once, before
// any answer was read; requests left unanswered by a connection the API closed after an answer
// go again on a new one.
func (c *client) do(reqs ...*http.Request) ([]reply, error) {
	var out []reply
	retried := false
	for len(out) < len(reqs) {
		left := reqs[len(out):]
		reused := c.conn != nil
		got, err := c.exchange(left)
		out = append(out, got...)
		if err == nil {
			continue
		}
		if retried || !reused || len(got) > 0 || left[0].Context().Err() != nil || !(errors.Is(err, io.EOF) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			return out, err
		}
		retried = true
		for _, req := range left {
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

// exchange writes reqs on the connection in one write, dialling it when there is none, and reads
// their answers; it stops early, with no error, after an answer that closes the connection. Any
// failure drops the connection; ending the requests' context breaks a wait for an answer.
func (c *client) exchange(reqs []*http.Request) (out []reply, err error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return nil, err
		}
		rw := rawio.Conn(conn)
		c.conn, c.r, c.w = conn, bufio.NewReader(rw), bufio.NewWriter(rw)
	}
	conn := c.conn
	closing := false
	defer func() {
		if err != nil || closing {
			_ = conn.Close()
			c.conn = nil
		}
	}()
	ctx := reqs[0].Context()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for _, req := range reqs {
		if err := req.Write(c.w); err != nil {
			return nil, err
		}
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	for _, req := range reqs {
		resp, err := http.ReadResponse(c.r, req)
		if err != nil {
			return out, errors.Join(err, ctx.Err())
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return out, errors.Join(err, ctx.Err())
		}
		out = append(out, reply{resp, body})
		if closing = resp.Close; closing {
			return out, nil
		}
	}
	return out, nil
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
	req, err := c.nextRequest(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	return readInvocation(out[0])
}

// answerThenNext posts an invocation's answer (see post) and asks for the next invocation in the
// same write, saving a round trip and a wake-up per invocation. An answer the API refused is
// returned as a *statusError beside the next invocation.
func (c *client) answerThenNext(ctx context.Context, a answer) (*invocation, error) {
	post, err := c.postRequest(ctx, a)
	if err != nil {
		return nil, err
	}
	next, err := c.nextRequest(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.do(post, next)
	if err != nil {
		if len(out) == 0 {
			return nil, fmt.Errorf("post %s: %w", a.path, err)
		}
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	inv, err := readInvocation(out[1])
	if err != nil {
		return nil, err
	}
	return inv, posted(a.path, out[0])
}

func (c *client) nextRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/invocation/next", nil)
	if err != nil {
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	return req, nil
}

// readInvocation reads an answer of /invocation/next.
func readInvocation(r reply) (*invocation, error) {
	resp, body := r.resp, r.body
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

// answer is what the handler's outcome is posted as: a response or an error.
type answer struct {
	path      string // under the API's prefix
	errorType string // Lambda-Runtime-Function-Error-Type, for an error
	body      []byte
}

// response is the answer of a handler's result.
func response(id string, body []byte) answer {
	return answer{path: "/invocation/" + id + "/response", body: body}
}

// errorBody is the Lambda shape of a function error.
type errorBody struct {
	Message string   `json:"errorMessage"`
	Type    string   `json:"errorType"`
	Trace   []string `json:"stackTrace,omitempty"`
}

// failure is the answer of a function error.
func failure(id string, e errorBody) answer { return errorAnswer("/invocation/"+id+"/error", e) }

// errorAnswer is e posted to path.
func errorAnswer(path string, e errorBody) answer {
	b, err := json.Marshal(e)
	if err != nil { // a string slice and strings always encode
		b = []byte(`{"errorType":"Runtime.MarshalError"}`)
	}
	return answer{path: path, errorType: e.Type, body: b}
}

// initError reports that the function could not start.
func (c *client) initError(ctx context.Context, e errorBody) error {
	return c.post(ctx, errorAnswer("/init/error", e))
}

// post posts a and returns the API's refusal, if any, as a *statusError.
func (c *client) post(ctx context.Context, a answer) error {
	req, err := c.postRequest(ctx, a)
	if err != nil {
		return err
	}
	out, err := c.do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", a.path, err)
	}
	return posted(a.path, out[0])
}

func (c *client) postRequest(ctx context.Context, a answer) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+a.path, bytes.NewReader(a.body))
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", a.path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", a.errorType)
	}
	return req, nil
}

// posted is the outcome of a post the API answered: nil when it took it (202).
func posted(path string, r reply) error {
	if r.resp.StatusCode != http.StatusAccepted {
		msg := r.body[:min(len(r.body), 4<<10)]
		return &statusError{path: path, status: r.resp.StatusCode, msg: string(bytes.TrimSpace(msg))}
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
