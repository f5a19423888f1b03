package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice.dev/runtimes/internal/codetest"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
	"sluice.dev/runtimes/sandbox"
)

// startTimeout bounds an instance's start: a JVM or Mono start on a busy 2-core machine.
const startTimeout = 60 * time.Second

// runner runs one target's fixtures: its code folder (built once where the runtime builds),
// the catalog and the sandbox every instance runs in.
type runner struct {
	target
	cat  *catalog.Catalog
	sb   *sandbox.Sandbox
	code string
}

// newRunner prepares tg: its fixtures copied into a folder of their own as a deploy unpacks a
// package, and, for a runtime that builds at deploy, built exactly as the registry does: the
// unpacked package in src, an empty dst, Build once, the version running dst. The fixtures of
// one runtime share one build (the runtimes' builds compile the whole package whatever the
// handler names); the build is made with the echo fixture's handler.
func newRunner(t *testing.T, cat *catalog.Catalog, sb *sandbox.Sandbox, tg target) *runner {
	t.Helper()
	if err := cat.Check(tg.runtime); err != nil {
		t.Fatalf("the suite needs every runtime's toolchain: %v", err)
	}
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	codetest.CopyTree(t, filepath.Join("testdata", tg.runtime), src)
	code := src
	if cat.Builds(tg.runtime) {
		code = filepath.Join(tmp, "out")
		if err := os.Mkdir(code, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		started := time.Now()
		out, err := cat.Build(ctx, "conformance-"+tg.runtime, tg.runtime, tg.handler("echo"), src, code)
		if err != nil {
			t.Fatalf("build %s: %v\n%s", tg.runtime, err, out)
		}
		t.Logf("built %s in %s", tg.runtime, time.Since(started).Round(time.Millisecond))
		codetest.MakeReadable(t, code)
	}
	return &runner{target: tg, cat: cat, sb: sb, code: code}
}

var seq atomic.Int64

func (r *runner) config(fixture string) instance.Config {
	return instance.Config{
		ID:       fmt.Sprintf("c-%d", seq.Add(1)),
		Function: "conformance-" + r.runtime,
		Version:  3,
		Runtime:  r.runtime,
		Handler:  r.handler(fixture),
		CodeDir:  r.code,
		MemoryMB: 256,
		Timeout:  30 * time.Second,
		Env:      map[string]string{"CONFORMANCE_GREETING": "hello, sandbox"},
		Sandbox:  r.sb,
		// A cold JVM or Mono start inside a cgroup on a busy machine takes seconds.
		InitTimeout: startTimeout,
	}
}

// start starts an instance of fixture and closes it when the test ends.
func (r *runner) start(t *testing.T, cfg instance.Config) *instance.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	i, err := instance.Start(ctx, r.cat, cfg)
	if err != nil {
		t.Fatalf("start %s %s: %v", cfg.Runtime, cfg.Handler, err)
	}
	t.Cleanup(func() { _ = i.Close() })
	return i
}

func request(payload string) instance.Request {
	return instance.Request{
		ID:       fmt.Sprintf("req-%d", seq.Add(1)),
		Deadline: time.Now().Add(30 * time.Second),
		Payload:  []byte(payload),
	}
}

// invoke runs one invocation that must succeed and decodes its answer into out.
func invoke(t *testing.T, i *instance.Instance, req instance.Request, out any) {
	t.Helper()
	resp, err := i.Invoke(context.Background(), req)
	if err != nil {
		t.Fatalf("invoke %s: %v", req.Payload, err)
	}
	if resp.Error != nil {
		t.Fatalf("invoke %s: function error %+v", req.Payload, resp.Error)
	}
	if err := json.Unmarshal(resp.Payload, out); err != nil {
		t.Fatalf("answer %q is not JSON: %v", resp.Payload, err)
	}
}

// lines collects what an instance prints.
type lines struct {
	mu  sync.Mutex
	all []instance.Line
}

func (l *lines) add(line instance.Line) {
	l.mu.Lock()
	l.all = append(l.all, line)
	l.mu.Unlock()
}

func (l *lines) get() []instance.Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]instance.Line(nil), l.all...)
}

// newSandbox is the sandbox a worker builds by default.
func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sb, err := sandbox.New(context.Background(), sandbox.Options{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	rep := sb.Report()
	t.Logf("sandbox: isolated %v, namespaces %v, cgroup %q, missing %v", rep.Isolated, rep.Namespaces, rep.Cgroup, rep.Missing)
	return sb
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
