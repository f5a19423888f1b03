package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
)

// fixture is one runtime's test function folder; every runtime passes the same suite.
type fixture struct {
	runtime string
	dir     string // under testdata
	module  string // handler prefix: main.echo, index.echo
	broken  string // a folder whose module has a syntax error, handler "broken.handler"
}

var suite = []fixture{
	{runtime: "python", dir: "python", module: "main", broken: "pybroken"},
	{runtime: "nodejs", dir: "nodejs", module: "index", broken: "nodebroken"},
}

func testdata(t testing.TB, dir string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c := catalog.New(catalog.Options{})
	t.Cleanup(func() { _ = c.Close() })
	for _, id := range c.IDs() {
		if err := c.Check(id); err != nil {
			t.Fatalf("this test needs the real toolchains: %v", err)
		}
	}
	return c
}

// logs collects the lines an instance prints.
type logs struct {
	mu    sync.Mutex
	lines []Line
}

func (l *logs) add(line Line) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *logs) get() []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Line(nil), l.lines...)
}

var instanceSeq int

func config(t testing.TB, fx fixture, fn string) Config {
	instanceSeq++
	return Config{
		ID:       fmt.Sprintf("i-%d", instanceSeq),
		Function: "fn-" + fx.runtime,
		Version:  7,
		Runtime:  fx.runtime,
		Handler:  fx.module + "." + fn,
		CodeDir:  testdata(t, fx.dir),
		MemoryMB: 256,
		Timeout:  30 * time.Second,
	}
}

// start starts an instance and closes it when the test ends.
func start(t testing.TB, cat *catalog.Catalog, cfg Config) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	i, err := Start(ctx, cat, cfg)
	if err != nil {
		t.Fatalf("start %s %s: %v", cfg.Runtime, cfg.Handler, err)
	}
	t.Cleanup(func() { _ = i.Close() })
	return i
}

var reqSeq int

func request(payload string) Request {
	reqSeq++
	return Request{ID: "req-" + strconv.Itoa(reqSeq), Deadline: time.Now().Add(30 * time.Second), Payload: []byte(payload)}
}

func waitDone(t testing.TB, i *Instance) {
	t.Helper()
	select {
	case <-i.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("instance not done")
	}
}

// invokeJSON invokes i with {} and decodes its answer into out.
func invokeJSON(t *testing.T, i *Instance, out any) {
	t.Helper()
	resp, err := i.Invoke(context.Background(), request(`{}`))
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	if err := json.Unmarshal(resp.Payload, out); err != nil {
		t.Fatalf("answer %s: %v", resp.Payload, err)
	}
}

// reportedEnv invokes i, an instance of cfg (Env GREETING=hi, TZ=Europe/Paris) whose code is at
// taskRoot, with the env handler, checks the environment it reports is the function's (none of
// the worker's), and returns it.
func reportedEnv(t *testing.T, i *Instance, cfg Config, taskRoot string) map[string]string {
	t.Helper()
	var env map[string]string
	invokeJSON(t, i, &env)
	if _, ok := env["SLUICE_TEST_MARKER"]; ok {
		t.Fatal("the worker's environment reached the function")
	}
	want := map[string]string{
		"GREETING": "hi", "TZ": "Europe/Paris", "HOME": "/tmp", "LANG": "C.UTF-8", "PATH": defaultPath,
		"_HANDLER": cfg.Handler, "LAMBDA_TASK_ROOT": taskRoot, "AWS_LAMBDA_FUNCTION_NAME": cfg.Function,
		"AWS_LAMBDA_FUNCTION_VERSION": "7", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	return env
}
