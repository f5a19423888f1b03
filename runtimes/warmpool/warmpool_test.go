package warmpool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sluice.dev/events/testkit"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
)

func newCatalog(t *testing.T) *catalog.Catalog {
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

// running starts Run and returns a stop that waits for it.
func running(t *testing.T, p *Pool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop
}

func ready(t *testing.T, p *Pool, rt string, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := p.Ready(rt); got != n {
			return fmt.Errorf("%d %s processes ready, want %d", got, rt, n)
		}
		return nil
	})
}

func TestTakeSpecializeAndRefill(t *testing.T) {
	cat := newCatalog(t)
	dir := t.TempDir()
	p, err := New(Options{Catalog: cat, Sizes: map[string]int{"python": 2, "nodejs": 1}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	running(t, p)
	ready(t, p, "python", 2)
	ready(t, p, "nodejs", 1)
	for _, fx := range []struct{ rt, handler, code string }{
		{"python", "main.handler", "import os\ndef handler(e, c):\n    return os.environ['GREETING']\n"},
		{"nodejs", "index.handler", "exports.handler = async () => process.env.GREETING;\n"},
	} {
		i, ok := p.Take(fx.rt)
		if !ok {
			t.Fatalf("no %s process to take", fx.rt)
		}
		code := t.TempDir()
		file := strings.Split(fx.handler, ".")[0] + map[string]string{"python": ".py", "nodejs": ".js"}[fx.rt]
		if err := os.WriteFile(filepath.Join(code, file), []byte(fx.code), 0o644); err != nil {
			t.Fatal(err)
		}
		err := i.Specialize(context.Background(), instance.Config{ID: "f-1", Function: "f", Version: 1, Runtime: fx.rt,
			Handler: fx.handler, CodeDir: code, Env: map[string]string{"GREETING": "hello " + fx.rt}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := i.Invoke(context.Background(), instance.Request{ID: "r1", Payload: []byte(`{}`)})
		if err != nil || string(resp.Payload) != strconv.Quote("hello "+fx.rt) {
			t.Fatalf("%s invoke = %s, %v", fx.rt, resp.Payload, err)
		}
		_ = i.Close()
	}
	ready(t, p, "python", 2) // refilled in the background
	ready(t, p, "nodejs", 1)
	if _, ok := p.Take("java"); ok {
		t.Fatal("took a process of a runtime without a pool")
	}
}

func TestRunStopsEverything(t *testing.T) {
	cat := newCatalog(t)
	before := runtime.NumGoroutine()
	p, err := New(Options{Catalog: cat, Sizes: map[string]int{"python": 2}})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, p)
	ready(t, p, "python", 2)
	pids := children(t)
	if len(pids) != 2 {
		t.Fatalf("children %v, want 2 pre-started processes", pids)
	}
	stop()
	if _, ok := p.Take("python"); ok {
		t.Fatal("Take after Run returned")
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if left := children(t); len(left) > 0 {
			return fmt.Errorf("processes left: %v", left)
		}
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}

// children lists this test process's live child processes.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	me := strconv.Itoa(os.Getpid())
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == me && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

func TestNewRefusesBadSizes(t *testing.T) {
	cat := newCatalog(t)
	for _, sizes := range []map[string]int{{"python": -1}, {"cobol": 1}} {
		if _, err := New(Options{Catalog: cat, Sizes: sizes}); !errors.Is(err, ErrConfig) {
			t.Errorf("sizes %v: %v, want ErrConfig", sizes, err)
		}
	}
}

// A fresh pool pre-starts the runtimes quick to start before the virtual machines: a worker has
// processes for Python and Node.js functions long before its JVM is up.
func TestQuickRuntimesArePrestartedFirst(t *testing.T) {
	cat := newCatalog(t)
	sizes := map[string]int{}
	for _, rt := range cat.IDs() {
		if cat.Specializable(rt, nil) {
			sizes[rt] = 1
		}
	}
	p, err := New(Options{Catalog: cat, Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for {
		rt, _ := p.wanted()
		if rt == "" {
			break
		}
		order = append(order, rt)
		p.ready[rt] = append(p.ready[rt], nil) // stands for a started process
	}
	if len(order) != len(sizes) {
		t.Fatalf("pre-start order %v, want each of %v once", order, sizes)
	}
	slow := false
	for _, rt := range order {
		if cat.StartsSlowly(rt) {
			slow = true
		} else if slow {
			t.Fatalf("pre-start order %v: %s after a runtime slow to start", order, rt)
		}
	}
	if !slow || cat.StartsSlowly("python") || !cat.StartsSlowly("java") {
		t.Fatalf("order %v: java should start slowly and python not", order)
	}
}
