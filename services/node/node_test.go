package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/node"
)

// up runs a whole node in the test process and returns its endpoints; it stops at cleanup and
// the test checks that it stopped cleanly.
func up(t *testing.T, dir string, noWorker bool) node.Endpoints {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan node.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- node.Up(ctx, node.UpOptions{
			DataDir: dir, Listen: "127.0.0.1:0", NoWorker: noWorker,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(e node.Endpoints) { ready <- e },
		})
	}()
	var ep node.Endpoints
	select {
	case ep = <-ready:
	case err := <-done:
		t.Fatalf("up: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("up: not ready in 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("up stopped with %v", err)
		}
	})
	return ep
}

type client struct {
	t  *testing.T
	ep node.Endpoints
}

func (c client) do(method, path, body string, header ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.ep.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.ep.Token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c client) deploy(name, runtime, handler, file, code string, extra map[string]any) {
	c.t.Helper()
	req := map[string]any{"runtime": runtime, "handler": handler, "inline": map[string]string{"file": file, "content": code}}
	for k, v := range extra {
		req[k] = v
	}
	b, _ := json.Marshal(req)
	resp, body := c.do(http.MethodPut, "/v1/functions/"+name, string(b))
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("deploy %s: %d %s", name, resp.StatusCode, body)
	}
}

func TestNodeServesSyncAsyncAndFunctionURLs(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	c.deploy("hello", "python", "main.handler", "main.py",
		"def handler(event, context):\n    return {'hello': event.get('name') if isinstance(event, dict) else event}\n", nil)
	c.deploy("web", "nodejs", "index.handler", "index.js",
		"exports.handler = async (event) => ({statusCode: 201, headers: {'x-path': event.rawPath, 'x-request': event.requestContext.requestId}, body: 'made ' + event.body});\n", nil)

	resp, body := c.do(http.MethodPost, "/v1/functions/hello/invocations", `{"name":"Ada"}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Sluice-Outcome") != "ok" || !strings.Contains(body, "Ada") {
		t.Fatalf("sync invoke: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	resp, body = c.do(http.MethodPost, "/v1/functions/hello/invocations", `{"name":"Bea"}`, "X-Sluice-Invocation-Type", "Event")
	var accepted struct{ InvocationID string }
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &accepted) != nil || accepted.InvocationID == "" {
		t.Fatalf("async invoke: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		_, body := c.do(http.MethodGet, "/v1/invocations/"+accepted.InvocationID, "")
		var r events.Result
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return err
		}
		if r.Status != events.StatusSucceeded || !strings.Contains(string(r.Payload), "Bea") {
			return fmt.Errorf("invocation: %s", body)
		}
		return nil
	})

	resp, body = c.do(http.MethodPost, "/fn/web/some/path?q=1", "data", "Content-Type", "text/plain")
	if resp.StatusCode != 201 || body != "made data" || resp.Header.Get("X-Path") != "/some/path" {
		t.Fatalf("function URL: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if id := resp.Header.Get("X-Sluice-Invocation-Id"); id == "" || resp.Header.Get("X-Request") != id {
		t.Fatalf("the event's requestContext.requestId %q is not the invocation id %q", resp.Header.Get("X-Request"), id)
	}

	// Errors are JSON, with the right status.
	for _, tc := range []struct {
		method, path, body, token string
		status                    int
	}{
		{http.MethodGet, "/v1/functions", "", "wrong", http.StatusUnauthorized},
		{http.MethodPost, "/fn/hello", "{}", "", http.StatusUnauthorized},
		{http.MethodPost, "/v1/functions/nope/invocations", "{}", c.ep.Token, http.StatusNotFound},
		{http.MethodGet, "/v1/invocations/not-an-id", "", c.ep.Token, http.StatusNotFound},
		{http.MethodPost, "/v1/functions/hello/invocations", strings.Repeat("x", events.MaxPayload+1), c.ep.Token, http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(tc.method, c.ep.URL+tc.path, bytes.NewBufferString(tc.body))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s: %d %+v (%v), want %d with a JSON error", tc.method, tc.path, resp.StatusCode, e, err, tc.status)
		}
	}

	resp, _ = http.Get(c.ep.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestPendingWorkSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	var id string
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan node.Endpoints, 1)
		done := make(chan error, 1)
		go func() {
			done <- node.Up(ctx, node.UpOptions{DataDir: dir, Listen: "127.0.0.1:0", NoWorker: true,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(e node.Endpoints) { ready <- e }})
		}()
		c := client{t, <-ready}
		c.deploy("later", "python", "main.handler", "main.py", "def handler(e, c):\n    return {'got': e}\n", nil)
		resp, body := c.do(http.MethodPost, "/v1/functions/later/invocations", `"kept"`, "X-Sluice-Invocation-Type", "Event")
		var accepted struct{ InvocationID string }
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &accepted) != nil {
			t.Fatalf("async invoke: %d %s", resp.StatusCode, body)
		}
		id = accepted.InvocationID
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("first node stopped with %v", err)
		}
	}()

	c := client{t, up(t, dir, false)}
	testkit.Eventually(t, 30*time.Second, func() error {
		_, body := c.do(http.MethodGet, "/v1/invocations/"+id, "")
		if !strings.Contains(body, `"succeeded"`) || !strings.Contains(body, "kept") {
			return fmt.Errorf("invocation after restart: %s", body)
		}
		return nil
	})
}

// A node stopped as soon as it is ready, before its scaler and adapters have started, stops
// cleanly: the roles that were still opening their buckets see a cancelled context, not a fault.
func TestStopRightAfterReadyIsClean(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		err := node.Up(ctx, node.UpOptions{DataDir: dir, Listen: "127.0.0.1:0", NoWorker: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(node.Endpoints) { cancel() }})
		cancel()
		if err != nil {
			t.Fatalf("start %d: stopped with %v", i, err)
		}
	}
}
