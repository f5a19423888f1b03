package instance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice.dev/runtimes/internal/proctest"

	"sluice.dev/runtimes/catalog"
)

// prestarted pre-starts a generic process of runtime and closes it when the test ends.
func prestarted(t testing.TB, cat *catalog.Catalog, runtime string) *Instance {
	t.Helper()
	return prestartedWithin(t, cat, runtime, 30*time.Second)
}

// prestartedWithin pre-starts a generic process of runtime in a slot folder of its own, given
// within to start and warm up (a JVM wants more than an interpreter).
func prestartedWithin(t testing.TB, cat *catalog.Catalog, runtime string, within time.Duration) *Instance {
	t.Helper()
	slot := filepath.Join(t.TempDir(), "slot")
	if err := os.Mkdir(slot, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	instanceSeq++
	i, err := Prestart(ctx, cat, PrestartConfig{ID: "warm-" + runtime, Runtime: runtime, SlotDir: slot, InitTimeout: within})
	if err != nil {
		t.Fatalf("prestart %s: %v", runtime, err)
	}
	t.Cleanup(func() { _ = i.Close() })
	return i
}

func TestSpecializeTakesTheFunctionsEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_MARKER", "leak")
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := prestarted(t, cat, fx.runtime)
			cfg := config(t, fx, "env")
			cfg.Env = map[string]string{"GREETING": "hi", "TZ": "Europe/Paris"}
			if err := i.Specialize(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			if !i.Prestarted() || i.InitDuration() <= 0 {
				t.Fatalf("Prestarted %v, InitDuration %v", i.Prestarted(), i.InitDuration())
			}
			env := reportedEnv(t, i, cfg, i.prestart.slot)
			if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") || !strings.HasSuffix(env["AWS_LAMBDA_LOG_STREAM_NAME"], "[7]"+cfg.ID) {
				t.Errorf("runtime variables = %v", env)
			}
		})
	}
}

func TestSpecializedContextFields(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := prestarted(t, cat, fx.runtime)
			cfg := config(t, fx, "ctx")
			if err := i.Specialize(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			invokeJSON(t, i, &got)
			if got["function_name"] != cfg.Function || got["memory_limit_in_mb"] != "256" ||
				got["invoked_function_arn"] != "arn:aws:lambda:local:000000000000:function:"+cfg.Function+":7" {
				t.Fatalf("context = %v", got)
			}
		})
	}
}

func TestSpecializeInitErrors(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			cases := []struct{ dir, handler, typ string }{
				{fx.dir, fx.module + ".nope", "Runtime.HandlerNotFound"},
				{fx.broken, "broken.handler", "Runtime.UserCodeSyntaxError"},
			}
			for _, tc := range cases {
				i := prestarted(t, cat, fx.runtime)
				cfg := config(t, fx, "x")
				cfg.CodeDir, cfg.Handler = testdata(t, tc.dir), tc.handler
				err := i.Specialize(context.Background(), cfg)
				var f *Failure
				if !errors.Is(err, ErrInit) || !errors.As(err, &f) || f.Function == nil || f.Function.Type != tc.typ {
					t.Fatalf("%s: Specialize = %v, want ErrInit with %s", tc.handler, err, tc.typ)
				}
				waitDone(t, i)
				if _, err := os.Stat(i.prestart.slot); !os.IsNotExist(err) {
					t.Fatalf("slot folder left behind: %v", err)
				}
			}
		})
	}
}

func TestSpecializeRefusals(t *testing.T) {
	cat := newCatalog(t)
	i := prestarted(t, cat, "python")
	if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrConfig) {
		t.Fatalf("invoke before Specialize = %v, want ErrConfig", err)
	}
	cfg := config(t, suite[0], "echo")
	cfg.Env = map[string]string{"PYTHONHASHSEED": "0"}
	if err := i.Specialize(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("start-only variable = %v, want ErrConfig", err)
	}
	waitDone(t, i) // a refused specialisation ends the process

	started := start(t, cat, config(t, suite[0], "echo"))
	if err := started.Specialize(context.Background(), config(t, suite[0], "echo")); !errors.Is(err, ErrConfig) {
		t.Fatalf("Specialize on a started instance = %v, want ErrConfig", err)
	}
}

// A pre-started process rehearses taking on a function while it waits (a module loaded from a
// folder of its own, an invocation of a no-op), and the function it takes on finds nothing of
// that: no module, path entry, finder or folder.
func TestRehearsalLeavesNothingBehind(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := prestarted(t, cat, fx.runtime)
			if err := i.Specialize(context.Background(), config(t, fx, "traces")); err != nil {
				t.Fatal(err)
			}
			var traces struct {
				Modules, Path, Finders, Folders []string // Path and Finders: Python's alone
				PID                             int
			}
			invokeJSON(t, i, &traces)
			if traces.PID != i.cmd.Process.Pid || len(traces.Modules)+len(traces.Path)+len(traces.Finders)+len(traces.Folders) > 0 {
				t.Fatalf("the function found the rehearsal's traces: %+v (process %d)", traces, i.cmd.Process.Pid)
			}
		})
	}
}

func TestPrestartCloseLeavesNothingBehind(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := prestarted(t, cat, fx.runtime)
			pid := i.cmd.Process.Pid
			_ = i.Close()
			waitDone(t, i)
			if err := proctest.Gone(pid); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(i.prestart.slot); !os.IsNotExist(err) {
				t.Fatalf("slot folder left behind: %v", err)
			}
		})
	}
}

func TestFillSlotLinksAndCopies(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "pkg", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"main.py": "x = 1\n", "pkg/sub/m.py": "y = 2\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("main.py", filepath.Join(src, "alias.py")); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{t.TempDir(), "/dev/shm"} {
		if dst == "/dev/shm" {
			d, err := os.MkdirTemp(dst, "slot-")
			if err != nil {
				t.Skip("no /dev/shm for a cross file system copy")
			}
			t.Cleanup(func() { _ = os.RemoveAll(d) })
			dst = d
		}
		if err := fillSlot(src, dst); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dst, "pkg", "sub", "m.py"))
		if err != nil || string(b) != "y = 2\n" {
			t.Fatalf("%s: m.py = %q, %v", dst, b, err)
		}
		if to, err := os.Readlink(filepath.Join(dst, "alias.py")); err != nil || to != "main.py" {
			t.Fatalf("%s: alias.py = %q, %v", dst, to, err)
		}
	}
}
