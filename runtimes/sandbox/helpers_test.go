package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"

	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice.dev/runtimes/internal/codetest"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
)

// runtimeFixture is one runtime's hostile function; every runtime added later joins the suite
// with the same handlers (echo, ids, read, write, kill, connect, alloc, forkbomb, filltmp,
// spin), each returning {ok, value} or {ok: false, errno, message}.
type runtimeFixture struct {
	runtime string
	dir     string // under testdata/hostile
	module  string // handler prefix
}

var fixtures = []runtimeFixture{
	{runtime: "python", dir: "python", module: "main"},
	{runtime: "nodejs", dir: "nodejs", module: "index"},
}

// custom is the hostile function as a custom runtime (sh and curl): it has the steal and
// connect handlers only.
var custom = runtimeFixture{runtime: "custom", dir: "custom", module: "bootstrap"}

// node stands for a worker node's data folder: private (0700), holding the node's credentials
// and every function's code.
type node struct {
	data    string
	secrets string // the node's credentials file
	code    map[string]string
}

// newNode lays out a data folder with the fixtures' code and a credentials file.
func newNode(t testing.TB) *node {
	t.Helper()
	n := &node{data: filepath.Join(t.TempDir(), "node"), code: map[string]string{}}
	if err := os.MkdirAll(filepath.Join(n.data, "code"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(n.data, 0o700); err != nil {
		t.Fatal(err)
	}
	n.secrets = filepath.Join(n.data, "secrets.json")
	if err := os.WriteFile(n.secrets, []byte(`{"token":"node-api-token-secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"python", "nodejs", "custom", "victim"} {
		dst := filepath.Join(n.data, "code", name)
		codetest.CopyTree(t, filepath.Join("..", "testdata", "hostile", name), dst)
		n.code[name] = dst
	}
	return n
}

func newCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c := catalog.New(catalog.Options{})
	t.Cleanup(func() { _ = c.Close() })
	for _, f := range fixtures {
		if err := c.Check(f.runtime); err != nil {
			t.Fatalf("this test needs the real toolchains: %v", err)
		}
	}
	return c
}

// recorder is the Sandbox under test, remembering the jails it made.
type recorder struct {
	*Sandbox
	mu    sync.Mutex
	jails []*Jail
}

func (r *recorder) Jail(ctx context.Context, cfg instance.Config) (instance.Jail, error) {
	j, err := r.Sandbox.Jail(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.jails = append(r.jails, j.(*Jail))
	r.mu.Unlock()
	return j, nil
}

func (r *recorder) last() *Jail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jails[len(r.jails)-1]
}

// isolated builds a Required sandbox, skipping (with the reason) only where the host truly
// lacks a part of the isolation.
func isolated(t testing.TB, opts Options) *recorder {
	t.Helper()
	rep, err := Probe(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Isolated {
		t.Skipf("this host cannot isolate instances: %s", strings.Join(rep.Missing, "; "))
	}
	opts.Mode = Required
	s, err := New(context.Background(), opts, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &recorder{Sandbox: s}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var seq atomic.Int64

func config(n *node, fx runtimeFixture, fn string, sb instance.Sandbox) instance.Config {
	return instance.Config{
		ID:       fmt.Sprintf("i-%d", seq.Add(1)),
		Function: "hostile-" + fx.runtime,
		Version:  1,
		Runtime:  fx.runtime,
		Handler:  fx.module + "." + fn,
		CodeDir:  n.code[fx.dir],
		MemoryMB: 256,
		Timeout:  30 * time.Second,
		Sandbox:  sb,
	}
}

func start(t testing.TB, cat *catalog.Catalog, cfg instance.Config) *instance.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	i, err := instance.Start(ctx, cat, cfg)
	if err != nil {
		t.Fatalf("start %s %s: %v", cfg.Runtime, cfg.Handler, err)
	}
	t.Cleanup(func() { _ = i.Close() })
	return i
}

func request(payload any) instance.Request {
	b, _ := json.Marshal(payload)
	return instance.Request{ID: fmt.Sprintf("req-%d", seq.Add(1)), Deadline: time.Now().Add(30 * time.Second), Payload: b}
}

// outcome is a hostile handler's report.
type outcome struct {
	OK      bool            `json:"ok"`
	Value   json.RawMessage `json:"value"`
	Errno   string          `json:"errno"`
	Message string          `json:"message"`
}

// call invokes fn's handler with payload and decodes its answer into out.
func call(t testing.TB, i *instance.Instance, payload, out any) {
	t.Helper()
	resp, err := i.Invoke(context.Background(), request(payload))
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke %v: %v %+v", payload, err, resp.Error)
	}
	if err := json.Unmarshal(resp.Payload, out); err != nil {
		t.Fatalf("answer %s: %v", resp.Payload, err)
	}
}

// uidOf is the real uid of pid as the host sees it.
func uidOf(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("no Uid line for %d", pid)
	return -1
}

// control checks that another function still starts and answers on the same sandbox.
func control(t testing.TB, cat *catalog.Catalog, n *node, sb instance.Sandbox) {
	t.Helper()
	for _, fx := range fixtures {
		i := start(t, cat, config(n, fx, "echo", sb))
		var got map[string]string
		call(t, i, map[string]string{"still": "fine"}, &got)
		if got["still"] != "fine" {
			t.Fatalf("control %s answered %v", fx.runtime, got)
		}
		_ = i.Close()
	}
}

// listenLoopback accepts and drops connections on the host's loopback until the test ends,
// returning its port.
func listenLoopback(t testing.TB) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port, nil
}
