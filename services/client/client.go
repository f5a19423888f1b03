package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

// Error is an error answer of the API.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsNotFound reports an API answer of 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Client calls one sluice node. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New makes a client of the API at baseURL (e.g. http://127.0.0.1:8080). hc may be nil; the
// client sets no overall timeout, since invocations may run for minutes: bound calls with ctx.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

func (c *Client) request(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is sluice running? start it with sluice up, or set SLUICE_URL)", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
		return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	return &Error{Status: resp.StatusCode, Message: msg}
}

// do sends a JSON body (when in is not nil) and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	resp, err := c.request(ctx, method, path, body, ct)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func fnPath(name string, rest ...string) string {
	return "/v1/functions/" + url.PathEscape(name) + strings.Join(rest, "")
}

// UploadCode stores a code package and returns its reference.
func (c *Client) UploadCode(ctx context.Context, zip []byte) (events.CodeRef, error) {
	resp, err := c.request(ctx, http.MethodPost, "/v1/code", bytes.NewReader(zip), "application/zip")
	if err != nil {
		return events.CodeRef{}, err
	}
	defer resp.Body.Close()
	var ref events.CodeRef
	if err := json.NewDecoder(resp.Body).Decode(&ref); err != nil {
		return events.CodeRef{}, fmt.Errorf("upload code: decode answer: %w", err)
	}
	return ref, nil
}

// Deploy makes a new version of the function.
func (c *Client) Deploy(ctx context.Context, name string, req wire.DeployRequest) (events.Version, error) {
	var v events.Version
	err := c.do(ctx, http.MethodPut, fnPath(name), req, &v)
	return v, err
}

// List returns every function.
func (c *Client) List(ctx context.Context) ([]wire.FunctionSummary, error) {
	var out wire.FunctionList
	err := c.do(ctx, http.MethodGet, "/v1/functions", nil, &out)
	return out.Functions, err
}

// Workers returns the live workers' heartbeats, by id.
func (c *Client) Workers(ctx context.Context) ([]events.WorkerBeat, error) {
	var out wire.WorkerList
	err := c.do(ctx, http.MethodGet, "/v1/workers", nil, &out)
	return out.Workers, err
}

// Get returns a function's head and latest version.
func (c *Client) Get(ctx context.Context, name string) (wire.FunctionDetail, error) {
	var d wire.FunctionDetail
	err := c.do(ctx, http.MethodGet, fnPath(name), nil, &d)
	return d, err
}

// Versions returns every version of a function, oldest first.
func (c *Client) Versions(ctx context.Context, name string) ([]events.Version, error) {
	var out wire.VersionList
	err := c.do(ctx, http.MethodGet, fnPath(name, "/versions"), nil, &out)
	return out.Versions, err
}

// Delete removes a function.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, fnPath(name), nil, nil)
}

// InvokeOptions choose how to invoke.
type InvokeOptions struct {
	Async     bool   // queue the event and return its id at once
	Qualifier string // version number or alias; "" is the latest
}

// Invocation is the answer of Invoke. An async invocation has ID and the Version it will run. A
// sync one has the function's Outcome and the Version that ran; Payload is its response when ok,
// Error its error otherwise.
type Invocation struct {
	ID      string
	Async   bool
	Outcome events.Outcome
	Version int
	Payload []byte
	Error   *events.FunctionError
}

// Invoke sends data as the event of the function. A function that fails is not an error here:
// look at Outcome.
func (c *Client) Invoke(ctx context.Context, name string, data []byte, o InvokeOptions) (Invocation, error) {
	path := fnPath(name, "/invocations")
	if o.Qualifier != "" {
		path += "?qualifier=" + url.QueryEscape(o.Qualifier)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return Invocation{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.Async {
		req.Header.Set(wire.HeaderInvocationType, wire.InvocationEvent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("%w (is sluice running? start it with sluice up, or set SLUICE_URL)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return Invocation{}, decodeError(resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Invocation{}, fmt.Errorf("invoke %s: read answer: %w", name, err)
	}
	if resp.StatusCode == http.StatusAccepted || o.Async {
		var acc wire.Accepted
		if err := json.Unmarshal(body, &acc); err != nil || acc.InvocationID == "" {
			return Invocation{}, fmt.Errorf("invoke %s: async answer without an invocation id: %.200s", name, body)
		}
		inv := Invocation{ID: acc.InvocationID, Async: true}
		inv.Version, _ = strconv.Atoi(resp.Header.Get(wire.HeaderVersion))
		return inv, nil
	}
	inv := Invocation{ID: resp.Header.Get(wire.HeaderInvocationID), Outcome: events.Outcome(resp.Header.Get(wire.HeaderOutcome))}
	inv.Version, _ = strconv.Atoi(resp.Header.Get(wire.HeaderVersion))
	if fe := resp.Header.Get(wire.HeaderFunctionError); fe != "" && (inv.Outcome == "" || inv.Outcome == events.OutcomeOK) {
		inv.Outcome = events.Outcome(fe)
	}
	if inv.Outcome == "" {
		inv.Outcome = events.OutcomeOK
	}
	if inv.Outcome == events.OutcomeOK {
		inv.Payload = body
		return inv, nil
	}
	var fe events.FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Type == "" && fe.Message == "") {
		fe = events.FunctionError{Type: string(inv.Outcome), Message: strings.TrimSpace(string(body))}
	}
	inv.Error = &fe
	return inv, nil
}

// Invocation returns the record of an invocation.
func (c *Client) Invocation(ctx context.Context, id string) (events.Result, error) {
	var r events.Result
	err := c.do(ctx, http.MethodGet, "/v1/invocations/"+url.PathEscape(id), nil, &r)
	return r, err
}

// LogsOptions choose which log lines to read.
type LogsOptions struct {
	Since      time.Duration // 0: the server's default (10 minutes)
	Invocation string        // only this invocation's lines
	Grep       string        // only lines containing this text
	Follow     bool          // keep reading new lines until ctx ends
}

// Logs calls each for every log line of the function, in order. With Follow it returns when ctx
// ends (with nil) or the connection fails.
func (c *Client) Logs(ctx context.Context, name string, o LogsOptions, each func(events.LogLine) error) error {
	q := url.Values{}
	if o.Since > 0 {
		q.Set("since", o.Since.String())
	}
	if o.Invocation != "" {
		q.Set("invocation", o.Invocation)
	}
	if o.Grep != "" {
		q.Set("grep", o.Grep)
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	path := fnPath(name, "/logs")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.request(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue // keep-alive
		}
		var l events.LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("logs of %s: bad line: %w", name, err)
		}
		if err := each(l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	return nil
}
