package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
	"sluice.dev/runtimes/internal/codetest"
	"sluice.dev/runtimes/internal/proctest"
)

func TestEcho(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := start(t, cat, config(t, fx, "echo"))
			if i.InitDuration() <= 0 {
				t.Errorf("InitDuration = %v", i.InitDuration())
			}
			cases := map[string]string{
				`{"name":"Ada","n":[1,2]}`: `{"name":"Ada","n":[1,2]}`,
				`hello`:                    `"hello"`,
				``:                         `{}`,
			}
			for in, want := range cases {
				resp, err := i.Invoke(context.Background(), request(in))
				if err != nil || resp.Error != nil {
					t.Fatalf("invoke %q: %v %+v", in, err, resp.Error)
				}
				if !codetest.JSONEqual(t, resp.Payload, []byte(want)) {
					t.Errorf("echo %q = %s, want %s", in, resp.Payload, want)
				}
			}
		})
	}
}

func TestContextFields(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			cfg := config(t, fx, "ctx")
			i := start(t, cat, cfg)
			req := request(`{}`)
			req.Attributes = map[string]string{"id": "ev-1", "type": "dev.sluice.invoke", "source": "/cli", "subject": "café", "time": "2026-01-02T03:04:05Z"}
			resp, err := i.Invoke(context.Background(), req)
			if err != nil || resp.Error != nil {
				t.Fatalf("invoke: %v %+v", err, resp.Error)
			}
			var got struct {
				ID         string            `json:"aws_request_id"`
				Name       string            `json:"function_name"`
				Version    string            `json:"function_version"`
				Memory     string            `json:"memory_limit_in_mb"`
				ARN        string            `json:"invoked_function_arn"`
				Remaining  int64             `json:"remaining"`
				CloudEvent map[string]string `json:"cloudevent"`
			}
			if err := json.Unmarshal(resp.Payload, &got); err != nil {
				t.Fatalf("%s: %v", resp.Payload, err)
			}
			if got.ID != req.ID || got.Name != cfg.Function || got.Version != "7" || got.Memory != "256" ||
				got.ARN != "arn:aws:lambda:local:000000000000:function:"+cfg.Function+":7" ||
				got.Remaining <= 0 || got.Remaining > 30000 || !reflect.DeepEqual(got.CloudEvent, req.Attributes) {
				t.Fatalf("context = %+v", got)
			}
		})
	}
}

func TestHandlerError(t *testing.T) {
	cat := newCatalog(t)
	want := map[string]string{"python": "ValueError", "nodejs": "TypeError"}
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			var l logs
			cfg := config(t, fx, "fail")
			cfg.Logs = l.add
			i := start(t, cat, cfg)
			for range 2 { // the instance stays usable
				resp, err := i.Invoke(context.Background(), request(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				e := resp.Error
				if e == nil || e.Type != want[fx.runtime] || e.Message != "boom" || len(e.Trace) == 0 {
					t.Fatalf("error = %+v", e)
				}
			}
			select {
			case <-i.Done():
				t.Fatal("instance ended after a handler error")
			default:
			}
			found := false
			for _, line := range l.get() {
				found = found || (line.Stream == "stderr" && strings.Contains(line.Text, "boom"))
			}
			if !found {
				t.Errorf("the error was not logged: %+v", l.get())
			}
		})
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			var l logs
			cfg := config(t, fx, "sleep")
			cfg.Logs = l.add
			i := start(t, cat, cfg)
			req := request(`{}`)
			req.Deadline = time.Now().Add(time.Second)
			_, err := i.Invoke(context.Background(), req)
			var f *Failure
			if !errors.Is(err, ErrTimeout) || !errors.As(err, &f) || f.Exit == "" {
				t.Fatalf("err = %v, want ErrTimeout with the exit status", err)
			}
			waitDone(t, i)
			pid := 0
			for _, line := range l.get() {
				if n, ok := strings.CutPrefix(line.Text, "child "); ok {
					pid, _ = strconv.Atoi(n)
					if line.RequestID != req.ID {
						t.Errorf("line %q tagged %q, want %q", line.Text, line.RequestID, req.ID)
					}
				}
			}
			if pid == 0 {
				t.Fatalf("no child pid in the logs: %+v", l.get())
			}
			testkit.Eventually(t, 5*time.Second, func() error { return proctest.Gone(pid) })
			if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrCrashed) {
				t.Fatalf("invoke after timeout: %v", err)
			}
		})
	}
}

func TestCallerCancelKills(t *testing.T) {
	cat := newCatalog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := config(t, suite[0], "sleep")
	cfg.Logs = func(l Line) {
		if strings.HasPrefix(l.Text, "child ") {
			cancel() // the handler is running
		}
	}
	i := start(t, cat, cfg)
	_, err := i.Invoke(ctx, request(`{}`))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrTimeout and context.Canceled", err)
	}
	waitDone(t, i)
}

func TestCrash(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := start(t, cat, config(t, fx, "crash"))
			_, err := i.Invoke(context.Background(), request(`{}`))
			var f *Failure
			if !errors.Is(err, ErrCrashed) || !errors.As(err, &f) {
				t.Fatalf("err = %v, want ErrCrashed", err)
			}
			if f.Exit != "exit status 3" || len(f.Stderr) == 0 || f.Stderr[len(f.Stderr)-1] != "about to crash" {
				t.Fatalf("failure = %+v", f)
			}
			if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "about to crash") {
				t.Fatalf("message %q lacks the status or stderr", err)
			}
			waitDone(t, i)
			if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrCrashed) {
				t.Fatalf("invoke after crash: %v", err)
			}
		})
	}
}

func TestInitErrors(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			cases := []struct {
				dir, handler, typ, text string
			}{
				{fx.dir, fx.module + ".nope", "Runtime.HandlerNotFound", "nope"},
				{fx.dir, "missing.handler", "Runtime.ImportModuleError", "missing"},
				{fx.broken, "broken.handler", "Runtime.UserCodeSyntaxError", "broken"},
			}
			for _, tc := range cases {
				cfg := config(t, fx, "x")
				cfg.CodeDir, cfg.Handler = testdata(t, tc.dir), tc.handler
				i, err := Start(context.Background(), cat, cfg)
				var f *Failure
				if i != nil || !errors.Is(err, ErrInit) || !errors.As(err, &f) {
					t.Fatalf("%s: Start = %v, %v; want ErrInit", tc.handler, i, err)
				}
				if f.Function == nil || f.Function.Type != tc.typ || !strings.Contains(f.Function.Message, tc.text) {
					t.Errorf("%s: function error = %+v, want %s mentioning %q", tc.handler, f.Function, tc.typ, tc.text)
				}
				if len(f.Stderr) == 0 {
					t.Errorf("%s: no stderr in %v", tc.handler, err)
				}
			}
		})
	}
}

func TestInitExitBeforeReady(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[0], "x")
	cfg.CodeDir, cfg.Handler = testdata(t, "pyexit"), "exits.handler"
	_, err := Start(context.Background(), cat, cfg)
	var f *Failure
	if !errors.Is(err, ErrInit) || !errors.As(err, &f) {
		t.Fatalf("err = %v, want ErrInit", err)
	}
	if f.Exit != "exit status 2" || len(f.Stderr) == 0 || f.Stderr[0] != "leaving at import" {
		t.Fatalf("failure = %+v", f)
	}
}

func TestLogsTaggedInOrder(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			var l logs
			cfg := config(t, fx, "prints")
			cfg.Logs = l.add
			i := start(t, cat, cfg)
			for range 3 {
				before := len(l.get())
				req := request(`{}`)
				if _, err := i.Invoke(context.Background(), req); err != nil {
					t.Fatal(err)
				}
				// Everything printed during the invocation is delivered before Invoke returns.
				var stdout []string
				var stderr int
				for _, line := range l.get()[before:] {
					if line.RequestID != req.ID {
						t.Fatalf("line %.40q tagged %q, want %q", line.Text, line.RequestID, req.ID)
					}
					if line.Stream == "stderr" {
						stderr++
						continue
					}
					stdout = append(stdout, line.Text)
				}
				long := strings.Repeat("x", 100000)
				want := []string{"line 0", "line 1", "line 2", "line 3", "line 4", long[:MaxLine], long[MaxLine:], "via context"}
				if !reflect.DeepEqual(stdout, want) {
					t.Fatalf("stdout lines = %d %.80q, want %d", len(stdout), stdout, len(want))
				}
				if stderr != 1 {
					t.Fatalf("stderr lines = %d, want 1", stderr)
				}
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_MARKER", "leak")
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			cfg := config(t, fx, "env")
			cfg.Env = map[string]string{"GREETING": "hi", "TZ": "Europe/Paris"}
			i := start(t, cat, cfg)
			env := reportedEnv(t, i, cfg, cfg.CodeDir)
			if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") || !strings.HasSuffix(env["AWS_LAMBDA_LOG_STREAM_NAME"], "[7]"+cfg.ID) {
				t.Errorf("runtime variables = %v", env)
			}
		})
	}
	cfg := config(t, suite[0], "env")
	cfg.Env = map[string]string{"AWS_LAMBDA_RUNTIME_API": "evil"}
	if _, err := Start(context.Background(), cat, cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("reserved env: %v, want ErrConfig", err)
	}
}

func TestManySequentialInvokes(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			i := start(t, cat, config(t, fx, "echo"))
			for n := range 200 {
				in := fmt.Sprintf(`{"n":%d}`, n)
				resp, err := i.Invoke(context.Background(), request(in))
				if err != nil || resp.Error != nil || !codetest.JSONEqual(t, resp.Payload, []byte(in)) {
					t.Fatalf("invoke %d: %v %+v %s", n, err, resp.Error, resp.Payload)
				}
			}
		})
	}
}

func TestBusy(t *testing.T) {
	cat := newCatalog(t)
	running := make(chan struct{})
	cfg := config(t, suite[0], "sleep")
	cfg.Logs = func(l Line) {
		if strings.HasPrefix(l.Text, "child ") {
			close(running)
		}
	}
	i := start(t, cat, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := i.Invoke(context.Background(), request(`{}`))
		errc <- err
	}()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the first invocation did not start")
	}
	if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrBusy) {
		t.Fatalf("second invoke: %v, want ErrBusy", err)
	}
	_ = i.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke during Close: %v, want ErrClosed", err)
	}
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			i := start(t, cat, config(t, fx, "echo"))
			if _, err := i.Invoke(context.Background(), request(`{"a":1}`)); err != nil {
				t.Fatal(err)
			}
			pid := i.cmd.Process.Pid
			if err := i.Close(); err != nil {
				t.Fatal(err)
			}
			_ = i.Close() // idempotent
			waitDone(t, i)
			if err := proctest.Gone(pid); err != nil {
				t.Fatal(err)
			}
			if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrClosed) {
				t.Fatalf("invoke after Close: %v, want ErrClosed", err)
			}
			testkit.Eventually(t, 5*time.Second, func() error {
				if n := runtime.NumGoroutine(); n > baseline {
					return fmt.Errorf("%d goroutines, %d before the instance", n, baseline)
				}
				return nil
			})
		})
	}
}

func TestAnyRequestID(t *testing.T) {
	cat := newCatalog(t)
	for _, fx := range suite {
		t.Run(fx.runtime, func(t *testing.T) {
			var l logs
			cfg := config(t, fx, "prints")
			cfg.Logs = l.add
			i := start(t, cat, cfg)
			req := request(`{}`)
			req.ID = "bucket/key with space?" + req.ID
			if resp, err := i.Invoke(context.Background(), req); err != nil || resp.Error != nil {
				t.Fatalf("invoke: %v %+v", err, resp)
			}
			for _, line := range l.get() {
				if line.RequestID != req.ID {
					t.Fatalf("line tagged %q, want %q", line.RequestID, req.ID)
				}
			}
		})
	}
}
