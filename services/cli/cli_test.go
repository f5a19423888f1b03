package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"sluice.dev/adapters/broker"
	"sluice.dev/adapters/cron"
	"sluice.dev/adapters/queue"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/access"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
	"sluice.dev/services/registry"
)

const testToken = "test-token"

// fakeInvocations stands in for the gateway's invocation endpoints, which live in another
// package, following their contract: it echoes the event, or fails as a handler raising
// ValueError("no thanks") when the event contains "fail". Only the CLI tests use it.
type fakeInvocations struct {
	reg *registry.Registry
	mu  sync.Mutex
	res map[string]events.Result
	n   int
}

func (f *fakeInvocations) routes(r *mux.Router) {
	r.HandleFunc("/v1/functions/{name}/invocations", f.invoke).Methods(http.MethodPost)
	r.HandleFunc("/v1/invocations/{id}", f.get).Methods(http.MethodGet)
}

func (f *fakeInvocations) invoke(w http.ResponseWriter, r *http.Request) {
	v, err := f.reg.Resolve(r.Context(), mux.Vars(r)["name"], r.URL.Query().Get("qualifier"))
	if err != nil {
		httpjson.Error(w, http.StatusNotFound, api.CodeFunctionNotFound, "%v", err)
		return
	}
	body, _ := io.ReadAll(r.Body)
	fail := bytes.Contains(body, []byte("fail"))
	fe := &events.FunctionError{Type: "ValueError", Message: "no thanks", Trace: []string{`File "main.py", line 2`}}
	f.mu.Lock()
	f.n++
	id := fmt.Sprintf("inv-%d", f.n)
	f.mu.Unlock()
	if r.Header.Get("X-Sluice-Invocation-Type") == "Event" {
		res := events.Result{ID: id, Function: v.Function, Version: v.Version, Status: events.StatusSucceeded, Outcome: events.OutcomeOK, Attempts: 1, Payload: events.RawJSON(body), DurationMs: 1.5}
		if fail {
			res.Status, res.Outcome, res.Attempts, res.Payload, res.Error = events.StatusFailed, events.OutcomeError, 3, nil, fe
		}
		f.mu.Lock()
		f.res[id] = res
		f.mu.Unlock()
		httpjson.Write(w, http.StatusAccepted, map[string]string{"invocationId": id})
		return
	}
	w.Header().Set("X-Sluice-Invocation-Id", id)
	w.Header().Set("X-Sluice-Version", fmt.Sprint(v.Version))
	if fail {
		w.Header().Set("X-Sluice-Outcome", "error")
		w.Header().Set("X-Sluice-Function-Error", "error")
		httpjson.Write(w, http.StatusOK, fe)
		return
	}
	w.Header().Set("X-Sluice-Outcome", "ok")
	_, _ = w.Write(body)
}

func (f *fakeInvocations) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	res, ok := f.res[mux.Vars(r)["id"]]
	f.mu.Unlock()
	if !ok {
		httpjson.Error(w, http.StatusNotFound, "invocation_not_found", "no invocation %q", mux.Vars(r)["id"])
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}

type site struct {
	bus  *bustest.Bus
	srv  *httptest.Server
	env  map[string]string
	home string
}

func newSite(t *testing.T) *site {
	t.Helper()
	bus := bustest.Start(t)
	reg, err := registry.New(bus.JS, runtimes(t), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	a := api.New(reg, bus.JS, nil, nil)
	a.Routes(r)
	a.TriggerRoutes(r, map[string]trigger.Factory{
		events.TriggerCron:        cron.New,
		events.TriggerQueue:       queue.New,
		events.TriggerHTTP:        func(events.Trigger) (trigger.Adapter, error) { return nil, nil },
		events.TriggerCloudEvents: broker.Factory,
	})
	(&fakeInvocations{reg: reg, res: map[string]events.Result{}}).routes(r)
	srv := httptest.NewServer(access.New(testToken, nil).Require(keys.Administer, access.DenyJSON, r))
	t.Cleanup(srv.Close)
	home := t.TempDir()
	return &site{bus: bus, srv: srv, home: home, env: map[string]string{"HOME": home, "SLUICE_URL": srv.URL, "SLUICE_TOKEN": testToken}}
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func (s *site) runIn(ctx context.Context, stdin string, roles Roles, args ...string) result {
	var out, errb bytes.Buffer
	code := Run(ctx, args, func(k string) string { return s.env[k] }, strings.NewReader(stdin), &out, &errb, roles)
	return result{code, out.String(), errb.String()}
}

func (s *site) run(t *testing.T, args ...string) result {
	t.Helper()
	return s.runIn(t.Context(), "", nil, args...)
}

func (s *site) ok(t *testing.T, args ...string) result {
	t.Helper()
	r := s.run(t, args...)
	if r.code != 0 {
		t.Fatalf("sluice %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (s *site) fails(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := s.run(t, args...)
	if r.code != code {
		t.Fatalf("sluice %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

const echoPy = "def handler(event, context):\n    return event\n"

func TestDeploy(t *testing.T) {
	s := newSite(t)
	r := s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	if !regexp.MustCompile(`^deployed echo version 1 \(runtime python, code sha256 [0-9a-f]{12}, \d+ B\)\n$`).MatchString(r.stdout) {
		t.Fatalf("deploy output: %q", r.stdout)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte(echoPy), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--source", dir,
		"--memory", "256", "--timeout", "5s", "--env", "A=1", "--env", "B=x=y", "--retries", "0", "--max", "3", "--description", "echoes")
	var d wire.FunctionDetail
	if err := json.Unmarshal([]byte(s.ok(t, "get", "echo", "-o", "json").stdout), &d); err != nil {
		t.Fatal(err)
	}
	c := d.Version.Config
	if d.Version.Version != 2 || c.MemoryMB != 256 || c.Timeout.D() != 5*time.Second || c.Env["B"] != "x=y" || c.Retries != 0 || c.Max != 3 || c.Description != "echoes" {
		t.Fatalf("deployed config = %+v", d.Version)
	}
	z, _ := archive.FromFile("main.py", []byte(echoPy))
	zipFile := filepath.Join(dir, "code.zip")
	_ = os.WriteFile(zipFile, z, 0o644)
	r = s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--zip", zipFile)
	if !strings.HasPrefix(r.stdout, "deployed echo version 3 ") {
		t.Fatalf("zip deploy: %q", r.stdout)
	}
	// Retries default to 2 when not given.
	_ = json.Unmarshal([]byte(s.ok(t, "get", "echo", "-o", "json").stdout), &d)
	if d.Version.Config.Retries != events.DefaultRetries {
		t.Fatalf("default retries = %d", d.Version.Config.Retries)
	}
}

func TestDeployRefused(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	slip := filepath.Join(dir, "slip.zip")
	var buf bytes.Buffer
	writeSlip(t, &buf)
	_ = os.WriteFile(slip, buf.Bytes(), 0o644)
	r := s.fails(t, 1, "deploy", "slipper", "--runtime", "python", "--handler", "main.handler", "--zip", slip)
	if !strings.Contains(r.stderr, "escaped.py") {
		t.Fatalf("zip-slip error does not name the entry: %s", r)
	}
	s.fails(t, 1, "get", "slipper")
	r = s.fails(t, 1, "deploy", "f", "--runtime", "cobol", "--handler", "main.handler", "--inline", "x")
	if !strings.Contains(r.stderr, "use one of") || !strings.Contains(r.stderr, "python") {
		t.Fatalf("unknown runtime: %s", r)
	}
	r = s.fails(t, 1, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--inline", "x", "--memory", "1")
	if !strings.Contains(r.stderr, "memoryMB 1") {
		t.Fatalf("memory: %s", r)
	}
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler")
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--inline", "x", "--source", dir)
	s.fails(t, 2, "deploy", "f", "--handler", "main.handler", "--inline", "x")
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--inline", "x", "--env", "NOEQUALS")
	r = s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--inline", "x", "--env", "LD_PRELOAD=x")
	if !strings.Contains(r.stderr, "environment variable LD_PRELOAD is not allowed: the dynamic loader reads it before the function runs") {
		t.Fatalf("LD_PRELOAD: %s", r)
	}
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--inline", "x", "--timeout", "soon")
	s.fails(t, 2, "deploy")
	s.fails(t, 2, "frobnicate")
}

func TestInvoke(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	if r := s.ok(t, "invoke", "echo", "--data", `{"n":42}`); r.stdout != "{\"n\":42}\n" || r.stderr != "" {
		t.Fatalf("invoke: %s", r)
	}
	if r := s.ok(t, "invoke", "echo"); r.stdout != "{}\n" {
		t.Fatalf("invoke without data: %s", r)
	}
	file := filepath.Join(t.TempDir(), "ev.json")
	_ = os.WriteFile(file, []byte(`{"from":"file"}`), 0o644)
	if r := s.ok(t, "invoke", "echo", "--data", "@"+file); r.stdout != "{\"from\":\"file\"}\n" {
		t.Fatalf("invoke @FILE: %s", r)
	}
	if r := s.runIn(t.Context(), `{"from":"stdin"}`, nil, "invoke", "echo", "--data", "@-"); r.code != 0 || r.stdout != "{\"from\":\"stdin\"}\n" {
		t.Fatalf("invoke @-: %s", r)
	}
	if r := s.ok(t, "invoke", "echo", "--qualifier", "1", "--data", `"v1"`); r.stdout != "\"v1\"\n" {
		t.Fatalf("invoke --qualifier: %s", r)
	}
	if r := s.fails(t, 1, "invoke", "echo", "--qualifier", "9"); !strings.Contains(r.stderr, `has no version 9`) {
		t.Fatalf("unknown qualifier: %s", r)
	}
	r := s.fails(t, 1, "invoke", "echo", "--data", `{"please":"fail"}`)
	if r.stdout != "" || r.stderr != "error (error): ValueError: no thanks\n" {
		t.Fatalf("failing invoke: %s", r)
	}
	r = s.fails(t, 1, "invoke", "nope")
	if !strings.Contains(r.stderr, `function "nope" not found`) {
		t.Fatalf("unknown function: %s", r)
	}
	s.env["SLUICE_TOKEN"] = "wrong"
	if r := s.fails(t, 1, "invoke", "echo"); !strings.Contains(r.stderr, "missing or wrong token") {
		t.Fatalf("wrong token: %s", r)
	}
	s.env["SLUICE_URL"] = "http://127.0.0.1:1"
	if r := s.fails(t, 1, "list"); !strings.Contains(r.stderr, "is sluice running?") {
		t.Fatalf("unreachable: %s", r)
	}
}

func TestAsyncAndInvocation(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	r := s.ok(t, "invoke", "echo", "--async", "--data", `{"hello":"async"}`)
	id := strings.TrimSpace(r.stdout)
	if r.stdout != id+"\n" || id == "" || strings.ContainsAny(id, " \t") {
		t.Fatalf("async output: %q", r.stdout)
	}
	r = s.ok(t, "invocation", id)
	for _, want := range []string{"status:    succeeded", "outcome:   ok", "attempts:  1", `result:    {"hello":"async"}`, "version 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("invocation: want %q in\n%s", want, r.stdout)
		}
	}
	failed := strings.TrimSpace(s.ok(t, "invoke", "echo", "--async", "--data", `"fail"`).stdout)
	r = s.fails(t, 1, "invocation", failed)
	if !strings.Contains(r.stdout, "status:    failed") || !strings.Contains(r.stdout, "error:     ValueError: no thanks") {
		t.Fatalf("failed invocation: %s", r)
	}
	var res events.Result
	r = s.ok(t, "invocation", failed, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.ID != failed || res.Status != events.StatusFailed || res.Error.Type != "ValueError" {
		t.Fatalf("invocation -o json: %v %s", err, r)
	}
	s.fails(t, 1, "invocation", "no-such-id")
	s.fails(t, 2, "invocation", failed, "-o", "yaml")
}

func TestListGetDelete(t *testing.T) {
	s := newSite(t)
	if r := s.ok(t, "list", "-o", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty list json: %q", r.stdout)
	}
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	s.ok(t, "deploy", "a-long-function-name", "--runtime", "nodejs", "--handler", "index.handler", "--inline", "exports.handler = async e => e", "--memory", "1024", "--env", "K=V")
	r := s.ok(t, "list")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^NAME\s+VERSION\s+RUNTIME\s+HANDLER\s+MEMORY\s+UPDATED$`).MatchString(lines[0]) {
		t.Fatalf("list:\n%s", r.stdout)
	}
	col := strings.Index(lines[0], "VERSION")
	if !strings.HasPrefix(lines[1], "a-long-function-name") || lines[1][col:col+1] != "1" || lines[2][col:col+1] != "1" {
		t.Fatalf("list columns are not aligned:\n%s", r.stdout)
	}
	if !strings.Contains(lines[1], "nodejs") || !strings.Contains(lines[1], "1024 MB") {
		t.Fatalf("list row: %q", lines[1])
	}
	var rows []wire.FunctionSummary
	if err := json.Unmarshal([]byte(s.ok(t, "list", "-o", "json").stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("list -o json: %v %+v", err, rows)
	}
	r = s.ok(t, "get", "a-long-function-name")
	for _, want := range []string{"nodejs", "index.handler", "1024 MB", "K=V", "version:", "1 (latest)"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("get: want %q in\n%s", want, r.stdout)
		}
	}
	if r := s.ok(t, "delete", "echo"); r.stdout != "deleted echo\n" {
		t.Fatalf("delete: %s", r)
	}
	if r := s.fails(t, 1, "get", "echo"); !strings.Contains(r.stderr, "not found") {
		t.Fatalf("get after delete: %s", r)
	}
	s.fails(t, 1, "delete", "echo")
	s.fails(t, 1, "invoke", "echo")
}

func TestLogs(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	publish := func(inv, msg string, when time.Time) {
		b, _ := json.Marshal(events.LogLine{Time: when, Function: "echo", InvocationID: inv, Stream: "stdout", Message: msg})
		if _, err := s.bus.JS.Publish(context.Background(), events.LogsSubject("echo"), b); err != nil {
			t.Fatal(err)
		}
	}
	publish("inv-1", "hello from one", at)
	publish("", "a platform line", at)
	publish("inv-2", "hello from two", at)
	r := s.ok(t, "logs", "echo", "--since", "1h")
	want := "2026-03-04T05:06:07.000  inv-1  hello from one\n2026-03-04T05:06:07.000  -  a platform line\n2026-03-04T05:06:07.000  inv-2  hello from two\n"
	if r.stdout != want {
		t.Fatalf("logs:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r := s.ok(t, "logs", "echo", "--invocation", "inv-2"); r.stdout != "2026-03-04T05:06:07.000  inv-2  hello from two\n" {
		t.Fatalf("logs --invocation: %q", r.stdout)
	}
	s.fails(t, 1, "logs", "nope")

	// --follow prints new lines until interrupted, then exits 0.
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"logs", "echo", "--follow"}, func(k string) string { return s.env[k] }, strings.NewReader(""), out, io.Discard, nil)
	}()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(out.String(), "hello from two") {
			return fmt.Errorf("no old lines yet: %q", out.String())
		}
		return nil
	})
	publish("inv-3", "a new line", time.Now())
	testkit.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(out.String(), "inv-3  a new line") {
			return fmt.Errorf("no new line yet: %q", out.String())
		}
		return nil
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("logs --follow exited %d after interrupt", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs --follow did not stop after interrupt")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelp(t *testing.T) {
	s := newSite(t)
	for _, cmd := range []string{"deploy", "invoke", "invocation", "list", "get", "workers", "delete", "logs", "up", "serve"} {
		r := s.ok(t, cmd, "--help")
		if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "sluice "+cmd) {
			t.Errorf("%s --help:\n%s", cmd, r.stdout)
		}
	}
	if r := s.ok(t, "--help"); !strings.Contains(r.stdout, "deploy") || !strings.Contains(r.stdout, "sluice up") {
		t.Errorf("--help:\n%s", r.stdout)
	}
}
