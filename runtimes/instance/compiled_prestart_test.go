package instance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/internal/proctest"
)

// compiled is a runtime whose functions are built at deploy, with its pre-start fixture in
// testdata/<runtime>.
type compiled struct {
	runtime string
	handler func(method string) string // "who" → the runtime's handler of that method
	missing string                     // the init error type of a class that is not there
}

var compiledSuite = []compiled{
	{runtime: "java", handler: func(m string) string { return "prestart.Fn::" + m }, missing: "Runtime.ClassNotFound"},
	{runtime: "dotnet", handler: func(m string) string {
		return "Prestart.Fn::" + strings.ToUpper(m[:1]) + m[1:]
	}, missing: "Runtime.TypeNotFound"},
}

// slowStart bounds a JVM or Mono start on a busy 2-core machine.
const slowStart = 60 * time.Second

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// builtCode builds the runtime's fixture once per test binary, as a deploy does, and returns the
// folder instances run.
func builtCode(t testing.TB, cat *catalog.Catalog, runtime string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if dir, ok := built[runtime]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "sluice-built-"+runtime+"-")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := cat.Build(ctx, "fn-"+runtime, runtime, "", testdata(t, runtime), dst); err != nil {
		t.Fatalf("build %s: %v\n%s", runtime, err, out)
	}
	built[runtime] = dst
	return dst
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range built {
		_ = os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

func compiledConfig(t testing.TB, cat *catalog.Catalog, c compiled, function, method string) Config {
	instanceSeq++
	return Config{
		ID: "i-" + c.runtime + "-" + function + "-" + time.Now().Format("150405.000000"), Function: function, Version: 7,
		Runtime: c.runtime, Handler: c.handler(method), CodeDir: builtCode(t, cat, c.runtime),
		MemoryMB: 256, Timeout: 30 * time.Second, InitTimeout: slowStart,
	}
}

func TestCompiledPrestartTakesTheFunctionsEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_MARKER", "leak")
	cat := newCatalog(t)
	for _, c := range compiledSuite {
		t.Run(c.runtime, func(t *testing.T) {
			if !cat.Specializable(c.runtime, nil) {
				t.Fatalf("runtime %s cannot be pre-started", c.runtime)
			}
			i := prestartedWithin(t, cat, c.runtime, slowStart)
			cfg := compiledConfig(t, cat, c, "fn-"+c.runtime, "env")
			cfg.Env = map[string]string{"GREETING": "hi", "TZ": "Europe/Paris"}
			if err := i.Specialize(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			if !i.Prestarted() || i.InitDuration() <= 0 {
				t.Fatalf("Prestarted %v, InitDuration %v", i.Prestarted(), i.InitDuration())
			}
			t.Logf("%s specialised in %s", c.runtime, i.InitDuration())
			env := reportedEnv(t, i, cfg, i.prestart.slot)
			if !strings.HasSuffix(env["AWS_LAMBDA_LOG_STREAM_NAME"], "[7]"+cfg.ID) {
				t.Errorf("log stream = %q", env["AWS_LAMBDA_LOG_STREAM_NAME"])
			}
		})
	}
}

func TestCompiledPrestartChildAndContext(t *testing.T) {
	cat := newCatalog(t)
	for _, c := range compiledSuite {
		t.Run(c.runtime, func(t *testing.T) {
			i := prestartedWithin(t, cat, c.runtime, slowStart)
			cfg := compiledConfig(t, cat, c, "fn-"+c.runtime, "childEnv")
			cfg.Env = map[string]string{"GREETING": "from the function"}
			if err := i.Specialize(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			invokeJSON(t, i, &got)
			if got["explicit"] != "from the function" {
				t.Fatalf("a child process of the function sees GREETING=%q", got["explicit"])
			}
			// Mono sets the process's own environment; the JVM cannot, and a child started
			// without its ProcessBuilder's environment consulted inherits the pre-start one
			// (docs/runtimes.md).
			if c.runtime == "dotnet" && got["inherited"] != "from the function" {
				t.Fatalf("a child process started without an environment of its own sees GREETING=%q", got["inherited"])
			}
			t.Logf("%s: a child inheriting the environment sees GREETING=%q", c.runtime, got["inherited"])

			j := prestartedWithin(t, cat, c.runtime, slowStart)
			cfg = compiledConfig(t, cat, c, "fn-"+c.runtime, "ctx")
			if err := j.Specialize(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			var ctx map[string]any
			invokeJSON(t, j, &ctx)
			if ctx["function_name"] != cfg.Function || ctx["memory_limit_in_mb"] != "256" || ctx["function_version"] != "7" ||
				ctx["invoked_function_arn"] != "arn:aws:lambda:local:000000000000:function:"+cfg.Function+":7" {
				t.Fatalf("context = %v", ctx)
			}
		})
	}
}

// Two functions specialise two pre-started processes: each has its own process and its own
// state, and a specialised process refuses to take on another function.
func TestCompiledPrestartNeverShared(t *testing.T) {
	cat := newCatalog(t)
	for _, c := range compiledSuite {
		t.Run(c.runtime, func(t *testing.T) {
			a, b := prestartedWithin(t, cat, c.runtime, slowStart), prestartedWithin(t, cat, c.runtime, slowStart)
			cfgA := compiledConfig(t, cat, c, "fn-a", "who")
			cfgB := compiledConfig(t, cat, c, "fn-b", "who")
			cfgB.Env = map[string]string{"TZ": "Asia/Tokyo"}
			if err := a.Specialize(context.Background(), cfgA); err != nil {
				t.Fatal(err)
			}
			if err := b.Specialize(context.Background(), cfgB); err != nil {
				t.Fatal(err)
			}
			type who struct {
				PID      float64
				Calls    float64
				Function string
				TZ       string
			}
			var a1, a2, b1 who
			invokeJSON(t, a, &a1)
			invokeJSON(t, a, &a2)
			invokeJSON(t, b, &b1)
			if a1.Function != "fn-a" || b1.Function != "fn-b" || a1.PID != a2.PID || a1.PID == b1.PID {
				t.Fatalf("a: %+v %+v, b: %+v", a1, a2, b1)
			}
			if a1.Calls != 1 || a2.Calls != 2 || b1.Calls != 1 {
				t.Fatalf("state: a %v %v, b %v: the functions share it", a1.Calls, a2.Calls, b1.Calls)
			}
			if a1.TZ != "UTC" || !strings.Contains(b1.TZ, "Tokyo") && b1.TZ != "JST" {
				t.Fatalf("time zones a %q, b %q", a1.TZ, b1.TZ)
			}
			if err := a.Specialize(context.Background(), cfgB); !errors.Is(err, ErrConfig) {
				t.Fatalf("a second Specialize = %v, want ErrConfig", err)
			}
			var again who
			invokeJSON(t, a, &again)
			if again.Function != "fn-a" || again.Calls != 3 {
				t.Fatalf("after the refused Specialize a serves %+v", again)
			}
		})
	}
}

func TestCompiledPrestartInitErrorsAndRefusals(t *testing.T) {
	cat := newCatalog(t)
	for _, c := range compiledSuite {
		t.Run(c.runtime, func(t *testing.T) {
			i := prestartedWithin(t, cat, c.runtime, slowStart)
			cfg := compiledConfig(t, cat, c, "fn-"+c.runtime, "who")
			cfg.Handler = strings.Replace(cfg.Handler, "Fn::", "Missing::", 1)
			err := i.Specialize(context.Background(), cfg)
			var f *Failure
			if !errors.Is(err, ErrInit) || !errors.As(err, &f) || f.Function == nil || f.Function.Type != c.missing {
				t.Fatalf("Specialize = %v, want ErrInit with %s", err, c.missing)
			}
			waitDone(t, i)
			if _, err := os.Stat(i.prestart.slot); !os.IsNotExist(err) {
				t.Fatalf("slot folder left behind: %v", err)
			}

			start := map[string]string{"java": "JAVA_TOOL_OPTIONS", "dotnet": "MONO_GC_PARAMS"}[c.runtime]
			j := prestartedWithin(t, cat, c.runtime, slowStart)
			pid := j.cmd.Process.Pid
			cfg = compiledConfig(t, cat, c, "fn-"+c.runtime, "who")
			cfg.Env = map[string]string{start: "x"}
			if err := j.Specialize(context.Background(), cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("%s = %v, want ErrConfig", start, err)
			}
			waitDone(t, j)
			if err := proctest.Gone(pid); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A function's own start is unchanged: a process started for it runs the same code.
func TestCompiledStartStillWorks(t *testing.T) {
	cat := newCatalog(t)
	for _, c := range compiledSuite {
		t.Run(c.runtime, func(t *testing.T) {
			cfg := compiledConfig(t, cat, c, "fn-"+c.runtime, "hello")
			ctx, cancel := context.WithTimeout(context.Background(), slowStart)
			defer cancel()
			i, err := Start(ctx, cat, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer i.Close()
			var got map[string]string
			invokeJSON(t, i, &got)
			if got["hello"] != "world" || i.Prestarted() {
				t.Fatalf("hello = %v, prestarted %v", got, i.Prestarted())
			}
		})
	}
}

// A pre-started Mono process rehearses taking on a function (an assembly of its own, loaded from
// a folder and invoked through two turns of the loop) and removes the folder; a rehearsal that
// fails part way fails silently in the process, so the function checks how far it got.
func TestDotnetRehearsalRanAndLeftNoFolder(t *testing.T) {
	cat := newCatalog(t)
	c := compiledSuite[slices.IndexFunc(compiledSuite, func(c compiled) bool { return c.runtime == "dotnet" })]
	i := prestartedWithin(t, cat, c.runtime, slowStart)
	if err := i.Specialize(context.Background(), compiledConfig(t, cat, c, "fn-dotnet", "traces")); err != nil {
		t.Fatal(err)
	}
	var traces struct {
		Calls   int
		Folders []string
		PID     int
	}
	invokeJSON(t, i, &traces)
	if traces.PID != i.cmd.Process.Pid || traces.Calls != 2 || len(traces.Folders) > 0 {
		t.Fatalf("rehearsal: %+v (process %d): want 2 calls and no folder", traces, i.cmd.Process.Pid)
	}
}
