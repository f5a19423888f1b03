package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"sluice.dev/events"
)

// Inline Python functions deployed by the tests, each as main.py with handler main.handler.
const (
	echoPy = `def handler(event, context):
    if isinstance(event, dict) and "sizeOf" in event:
        return {"size": len(event["sizeOf"])}
    return {"echo": event}
`
	// touchPy holds event["mb"] MiB, every page touched, for the length of its invocation.
	touchPy = `def handler(event, context):
    held = bytearray(event["mb"] << 20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    return len(held)
`
	raisePy = `def handler(event, context):
    raise ValueError("no thanks")
`
	sleepPy = `import time


def handler(event, context):
    time.sleep(10)
    return "woke up"
`
	shapedPy = `def handler(event, context):
    return {"statusCode": 201, "headers": {"X-Greeting": "hi"}, "body": "created"}
`
	crashPy = `import os


def handler(event, context):
    if isinstance(event, dict) and event.get("crash"):
        os._exit(3)
    return {"alive": True}
`
)

// asyncDeadline bounds waiting for an async invocation to finish, retries included.
const asyncDeadline = 90 * time.Second

// deployExample deploys examples/NAME from its folder with the flags in its deploy.args.
func deployExample(t *testing.T, n *node, name string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	args, err := os.ReadFile(filepath.Join(dir, "deploy.args"))
	if err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
	n.ok(t, append([]string{"deploy", name, "--source", dir}, strings.Fields(string(args))...)...)
}

func deployInline(t testing.TB, n *node, name, code string, flags ...string) {
	t.Helper()
	n.ok(t, append([]string{"deploy", name, "--runtime", "python", "--handler", "main.handler", "--inline", code}, flags...)...)
}

// waitInvocation polls `sluice invocation ID -o json` until the invocation finished.
func waitInvocation(t testing.TB, n *node, id string) events.Result {
	t.Helper()
	var res events.Result
	testkit.EventuallyEvery(t, asyncDeadline, 200*time.Millisecond, func() error {
		r := n.sluice(t, "invocation", id, "-o", "json")
		if r.code != 0 {
			return fmt.Errorf("%s", r)
		}
		res = events.Result{}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			return fmt.Errorf("invocation -o json is not an events.Result: %w\n%s", err, r.stdout)
		}
		if res.Status != events.StatusSucceeded && res.Status != events.StatusFailed {
			return fmt.Errorf("invocation %s is %q", id, res.Status)
		}
		return nil
	})
	return res
}

func wantContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: want %q in\n%s", what, w, got)
		}
	}
}

// wantErrorJSON checks an HTTP error answer: the status and a {"error":{"code","message"}} body.
func wantErrorJSON(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
		return
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: body is not {\"error\":{\"code\",\"message\"}}: %s", what, r.body)
	}
}

func TestFunctions(t *testing.T) {
	n := newSite(t).start(t)
	deployExample(t, n, "python-hello")
	deployExample(t, n, "node-hello")
	deployInline(t, n, "echo", echoPy)

	t.Run("config file", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(n.site.home, ".config", "sluice", "config"))
		if err != nil {
			t.Fatalf("sluice up wrote no config file: %v", err)
		}
		wantContains(t, "config file", string(b), "SLUICE_URL=", "SLUICE_TOKEN=", "SLUICE_NATS_URL=")
	})

	t.Run("invoke via CLI", func(t *testing.T) {
		r := n.ok(t, "invoke", "python-hello", "--data", `{"name":"Ada"}`)
		wantContains(t, "python-hello", r.stdout, "Hello, Ada!")
		r = n.ok(t, "invoke", "node-hello", "--data", `{"name":"Ada"}`)
		wantContains(t, "node-hello", r.stdout, "Hello, Ada!")
		r = n.ok(t, "invoke", "echo", "--data", `{"n":42}`)
		var got struct{ Echo map[string]int }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Echo["n"] != 42 {
			t.Errorf("echo: want {\"echo\":{\"n\":42}}, got %q (%v)", r.stdout, err)
		}
		data := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(data, []byte(`{"name":"File"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		r = n.ok(t, "invoke", "python-hello", "--data", "@"+data)
		wantContains(t, "--data @FILE", r.stdout, "Hello, File!")
	})

	t.Run("function URL", func(t *testing.T) {
		for _, fn := range []string{"python-hello", "node-hello"} {
			r := n.request(t, http.MethodPost, "/fn/"+fn, []byte(`{"name":"Cy"}`), false, "Content-Type", "application/json")
			if r.status != http.StatusOK {
				t.Fatalf("POST /fn/%s: %d %s", fn, r.status, r.body)
			}
			wantContains(t, "/fn/"+fn, string(r.body), "Hello, Cy!")
		}
		r := n.request(t, http.MethodGet, "/fn/echo/some/path?x=1", nil, false)
		if r.status != http.StatusOK {
			t.Fatalf("GET /fn/echo/some/path: %d %s", r.status, r.body)
		}
		wantContains(t, "the request becomes the event", string(r.body), "/some/path")

		deployInline(t, n, "shaped", shapedPy)
		r = n.request(t, http.MethodGet, "/fn/shaped", nil, false)
		if r.status != http.StatusCreated || r.header.Get("X-Greeting") != "hi" || string(r.body) != "created" {
			t.Errorf("a {statusCode, headers, body} answer: %d X-Greeting=%q body %q, want 201, hi, created",
				r.status, r.header.Get("X-Greeting"), r.body)
		}
	})

	t.Run("invocations API", func(t *testing.T) {
		r := n.request(t, http.MethodPost, "/v1/functions/echo/invocations", []byte(`{"n":7}`), false)
		if r.status != http.StatusOK {
			t.Fatalf("sync invoke: %d %s", r.status, r.body)
		}
		if got := r.header.Get("X-Sluice-Outcome"); got != string(events.OutcomeOK) {
			t.Errorf("X-Sluice-Outcome = %q, want ok", got)
		}
		if r.header.Get("X-Sluice-Invocation-Id") == "" {
			t.Error("no X-Sluice-Invocation-Id header")
		}
		wantContains(t, "sync invoke body", string(r.body), `"n"`, "7")
	})

	t.Run("async", func(t *testing.T) {
		r := n.ok(t, "invoke", "python-hello", "--async", "--data", `{"name":"Bea"}`)
		id := r.lastLine()
		if id == "" || strings.ContainsAny(id, " \t") {
			t.Fatalf("invoke --async: want the id alone on the last line, got %q", r.stdout)
		}
		res := waitInvocation(t, n, id)
		if res.Status != events.StatusSucceeded || res.Outcome != events.OutcomeOK {
			t.Fatalf("invocation %s: status %s outcome %s error %v", id, res.Status, res.Outcome, res.Error)
		}
		if res.ID != id || res.Function != "python-hello" {
			t.Errorf("invocation record names %q/%q, want %q/python-hello", res.ID, res.Function, id)
		}
		wantContains(t, "async result", string(res.Payload), "Hello, Bea!")
		wantContains(t, "sluice invocation ID", n.ok(t, "invocation", id).stdout, "Hello, Bea!")

		h := n.request(t, http.MethodPost, "/v1/functions/echo/invocations", []byte(`{"via":"http"}`), false, "X-Sluice-Invocation-Type", "Event")
		if h.status != http.StatusAccepted {
			t.Fatalf("async over HTTP: %d %s, want 202", h.status, h.body)
		}
		var acc struct {
			InvocationID string `json:"invocationId"`
		}
		if err := json.Unmarshal(h.body, &acc); err != nil || acc.InvocationID == "" {
			t.Fatalf("async over HTTP: want {\"invocationId\":...}, got %s", h.body)
		}
		testkit.EventuallyEvery(t, asyncDeadline, 200*time.Millisecond, func() error {
			g := n.request(t, http.MethodGet, "/v1/invocations/"+acc.InvocationID, nil, false)
			var res events.Result
			if err := json.Unmarshal(g.body, &res); err != nil {
				return fmt.Errorf("GET /v1/invocations/%s: %d %s", acc.InvocationID, g.status, g.body)
			}
			if res.Status != events.StatusSucceeded {
				return fmt.Errorf("invocation %s: %s %s", acc.InvocationID, res.Status, g.body)
			}
			if !strings.Contains(string(res.Payload), "http") {
				return fmt.Errorf("invocation %s: result %s does not echo the event", acc.InvocationID, res.Payload)
			}
			return nil
		})
	})

	t.Run("function error", func(t *testing.T) {
		deployInline(t, n, "raiser", raisePy)
		r := n.sluice(t, "invoke", "raiser")
		if r.code == 0 {
			t.Fatalf("want a non-zero exit, got %s", r)
		}
		wantContains(t, "stderr", r.stderr, "ValueError", "no thanks", "(error)")
		h := n.request(t, http.MethodPost, "/v1/functions/raiser/invocations", []byte(`{}`), false)
		if h.status != http.StatusOK || h.header.Get("X-Sluice-Outcome") != string(events.OutcomeError) || h.header.Get("X-Sluice-Function-Error") == "" {
			t.Errorf("sync invoke of a failing function: %d outcome %q function-error %q, want 200 error and the header",
				h.status, h.header.Get("X-Sluice-Outcome"), h.header.Get("X-Sluice-Function-Error"))
		}
		if f := n.request(t, http.MethodPost, "/fn/raiser", []byte(`{}`), false); f.status != http.StatusBadGateway {
			t.Errorf("/fn of a failing function: %d %s, want 502", f.status, f.body)
		}
		// Async: retried, then failed with the handler's error.
		id := n.ok(t, "invoke", "raiser", "--async").lastLine()
		res := waitInvocation(t, n, id)
		if res.Status != events.StatusFailed || res.Outcome != events.OutcomeError || res.Error == nil || res.Error.Type != "ValueError" {
			t.Errorf("async failure: status %s outcome %s error %+v, want failed/error/ValueError", res.Status, res.Outcome, res.Error)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		deployInline(t, n, "sleeper", sleepPy, "--timeout", "1s")
		// The handler sleeps 10s: an answer must come well before it would return by itself.
		ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
		defer cancel()
		r := n.sluiceCtx(ctx, t, "invoke", "sleeper")
		if r.code == 0 {
			t.Fatalf("want a non-zero exit, got %s", r)
		}
		wantContains(t, "stderr", r.stderr, "timeout")
		if f := n.request(t, http.MethodPost, "/fn/sleeper", nil, false); f.status != http.StatusGatewayTimeout {
			t.Errorf("/fn of a function that times out: %d %s, want 504", f.status, f.body)
		}
	})

	t.Run("crash replaces the instance", func(t *testing.T) {
		deployInline(t, n, "crasher", crashPy)
		r := n.sluice(t, "invoke", "crasher", "--data", `{"crash":true}`)
		if r.code == 0 {
			t.Fatalf("want a non-zero exit, got %s", r)
		}
		wantContains(t, "stderr", r.stderr, "crash")
		r = n.ok(t, "invoke", "crasher", "--data", `{}`)
		wantContains(t, "invoke after a crash", r.stdout, "alive")
	})

	t.Run("unknown function", func(t *testing.T) {
		if r := n.sluice(t, "invoke", "no-such-function"); r.code == 0 {
			t.Errorf("want a non-zero exit, got %s", r)
		}
		wantErrorJSON(t, "invoke an unknown function over HTTP",
			n.request(t, http.MethodPost, "/v1/functions/no-such-function/invocations", []byte(`{}`), false), http.StatusNotFound)
	})

	t.Run("zip slip is refused", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range map[string]string{"main.py": echoPy, "../../escaped.py": "print('out')\n"} {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "slip.zip")
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		r := n.sluice(t, "deploy", "slipper", "--runtime", "python", "--handler", "main.handler", "--zip", file)
		if r.code == 0 {
			t.Fatalf("deploying a zip-slip archive succeeded: %s", r)
		}
		if !strings.Contains(r.stderr, "escaped.py") && !strings.Contains(r.stderr, "..") {
			t.Errorf("the error does not name the offending entry: %q", r.stderr)
		}
		if g := n.sluice(t, "get", "slipper"); g.code == 0 {
			t.Errorf("a refused deploy left a function behind: %s", g)
		}
	})

	t.Run("token required", func(t *testing.T) {
		if h := n.request(t, http.MethodGet, "/healthz", nil, true); h.status != http.StatusOK {
			t.Errorf("/healthz without a token: %d, want 200", h.status)
		}
		wantErrorJSON(t, "API without a token", n.request(t, http.MethodGet, "/v1/functions", nil, true), http.StatusUnauthorized)
		wantErrorJSON(t, "API with a wrong token",
			n.request(t, http.MethodGet, "/v1/functions", nil, true, "Authorization", "Bearer wrong"), http.StatusUnauthorized)
		wantErrorJSON(t, "function URL without a token", n.request(t, http.MethodPost, "/fn/echo", []byte(`{}`), true), http.StatusUnauthorized)
	})

	t.Run("payload size", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 6<<20+1)
		wantErrorJSON(t, "invoke with 6 MiB + 1", n.request(t, http.MethodPost, "/v1/functions/echo/invocations", big, false), http.StatusRequestEntityTooLarge)
		wantErrorJSON(t, "function URL with 6 MiB + 1", n.request(t, http.MethodPost, "/fn/echo", big, false), http.StatusRequestEntityTooLarge)
		// A large event under the limit goes through.
		ev, err := json.Marshal(map[string]string{"sizeOf": strings.Repeat("y", 5<<20)})
		if err != nil {
			t.Fatal(err)
		}
		r := n.request(t, http.MethodPost, "/v1/functions/echo/invocations", ev, false)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), fmt.Sprint(5<<20)) {
			t.Errorf("invoke with 5 MiB: %d %.200s, want 200 and the size", r.status, r.body)
		}
	})

	// The sandbox's peak memory of an invocation is its own: read after the answer, before the
	// instance's next invocation runs, and started again for it.
	t.Run("peak memory per invocation", func(t *testing.T) {
		deployInline(t, n, "peak", touchPy)
		n.ok(t, "invoke", "peak", "--data", `{"mb": 80}`)
		n.ok(t, "invoke", "peak", "--data", `{"mb": 0}`)
		maxUsed := regexp.MustCompile(`Max Memory Used: (\d+) MB`)
		testkit.EventuallyEvery(t, 30*time.Second, 300*time.Millisecond, func() error {
			r := n.sluice(t, "logs", "peak", "--since", "1h")
			m := maxUsed.FindAllStringSubmatch(r.stdout, -1)
			if len(m) != 2 {
				return fmt.Errorf("want two REPORT lines:\n%s", r)
			}
			first, _ := strconv.Atoi(m[0][1])
			second, _ := strconv.Atoi(m[1][1])
			if first < 80 || second >= first-40 {
				return fmt.Errorf("peaks %d MB then %d MB, want the first at least 80 and the second far below:\n%s", first, second, r.stdout)
			}
			t.Logf("peaks: %d MB, then %d MB", first, second)
			return nil
		})
	})

	t.Run("logs", func(t *testing.T) {
		n.ok(t, "invoke", "python-hello", "--data", `{"name":"Logan"}`)
		testkit.EventuallyEvery(t, 30*time.Second, 300*time.Millisecond, func() error {
			r := n.sluice(t, "logs", "python-hello", "--since", "1h")
			if r.code != 0 || !strings.Contains(r.stdout, "saying hello to Logan") {
				return fmt.Errorf("the printed line is not in the logs: %s", r)
			}
			// The invocation's START, its line, END and REPORT (from its meter record), in order.
			var id string
			for _, l := range strings.Split(r.stdout, "\n") {
				if f := strings.Fields(l); len(f) > 2 && strings.HasSuffix(l, "saying hello to Logan") {
					id = f[1]
				}
			}
			order := []string{"START RequestId: " + id + " Version: ", "saying hello to Logan", "END RequestId: " + id, "REPORT RequestId: " + id + " Duration: "}
			at := 0
			for _, want := range order {
				i := strings.Index(r.stdout[at:], want)
				if i < 0 {
					return fmt.Errorf("%q not in the logs after the lines before it:\n%s", want, r.stdout)
				}
				at += i + len(want)
			}
			return nil
		})
	})

	t.Run("list get delete", func(t *testing.T) {
		r := n.ok(t, "list", "-o", "json")
		if !json.Valid([]byte(r.stdout)) {
			t.Errorf("list -o json is not JSON: %q", r.stdout)
		}
		wantContains(t, "list -o json", r.stdout, "python-hello", "node-hello", "echo")
		wantContains(t, "list", n.ok(t, "list").stdout, "python-hello", "node-hello")
		wantContains(t, "get", n.ok(t, "get", "node-hello").stdout, "nodejs", "index.handler")
		n.ok(t, "delete", "raiser")
		if g := n.sluice(t, "get", "raiser"); g.code == 0 {
			t.Errorf("get after delete succeeded: %s", g)
		}
		if g := n.sluice(t, "invoke", "raiser"); g.code == 0 {
			t.Errorf("invoke after delete succeeded: %s", g)
		}
	})
}
