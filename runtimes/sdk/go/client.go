package sluice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

const apiPrefix = "/2018-06-01/runtime"

// client speaks the Lambda Runtime API over one kept-alive connection.
type client struct {
	base string
	http *http.Client
}

func newClient(addr string) *client {
	return &client{
		base: "http://" + addr + apiPrefix,
		// No proxy (the API is local whatever HTTP_PROXY says), no timeout (/next waits).
		http: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}},
	}
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
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("next invocation: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("next invocation: read payload: %w", err)
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
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusAccepted {
		return &statusError{path: path, status: resp.StatusCode, msg: string(bytes.TrimSpace(msg))}
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
