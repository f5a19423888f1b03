package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
	"sluice.dev/runtimes/internal/codetest"
)

// TestConformance runs every fixture on every target: go test -run 'TestConformance/java' runs
// one runtime, 'TestConformance/.*/hang' one fixture everywhere.
func TestConformance(t *testing.T) {
	sb := newSandbox(t)
	cat := catalog.New(catalog.Options{Runner: sb}) // deploy-time builds confined as on a node
	t.Cleanup(func() { _ = cat.Close() })
	for _, tg := range targets {
		t.Run(tg.runtime, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t, cat, sb, tg)
			for _, f := range fixtures {
				t.Run(f.name, func(t *testing.T) { f.run(t, r) })
			}
		})
	}
}

// fixture is one behaviour every runtime must show.
type fixture struct {
	name string
	run  func(t *testing.T, r *runner)
}

var fixtures = []fixture{
	{"echo", testEcho},
	{"http", testHTTP},
	{"fail", testFail},
	{"crash", testCrash},
	{"hang", testHang},
	{"flood", testFlood},
	{"env", testEnv},
	{"context", testContext},
	{"counter", testCounter},
	{"missing", testMissing},
}

func testEcho(t *testing.T, r *runner) {
	i := r.start(t, r.config("echo"))
	for _, in := range []string{
		`{"name":"Ada","n":[1,2.5,-3],"nested":{"ok":true,"none":null},"text":"café \"quoted\" \\ \n tab\t"}`,
		`{}`,
		`[1,"two",{"three":3}]`,
	} {
		resp, err := i.Invoke(context.Background(), request(in))
		if err != nil || resp.Error != nil {
			t.Fatalf("echo %s: %v %+v", in, err, resp.Error)
		}
		if !codetest.JSONEqual(t, resp.Payload, []byte(in)) {
			t.Errorf("echo %s = %s", in, resp.Payload)
		}
	}
}

func testHTTP(t *testing.T, r *runner) {
	i := r.start(t, r.config("http"))
	resp, err := i.Invoke(context.Background(), request(`{"httpMethod":"GET","path":"/"}`))
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	want := `{"statusCode":201,"headers":{"X-Fixture":"yes"},"body":"created"}`
	if !codetest.JSONEqual(t, resp.Payload, []byte(want)) {
		t.Errorf("http = %s, want %s", resp.Payload, want)
	}
}

func testFail(t *testing.T, r *runner) {
	var l lines
	cfg := r.config("fail")
	cfg.Logs = l.add
	i := r.start(t, cfg)
	for range 2 { // the instance keeps serving after a handler error
		resp, err := i.Invoke(context.Background(), request(`{}`))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		if e := resp.Error; e == nil || e.Type != r.errorType || !strings.Contains(e.Message, "boom") {
			t.Fatalf("error = %+v, want type %s and message boom", resp.Error, r.errorType)
		}
		if r.failFrame != "" && !slices.ContainsFunc(resp.Error.Trace, func(l string) bool { return strings.Contains(l, r.failFrame) }) {
			t.Fatalf("stack trace %q does not name the handler's frame (%q)", resp.Error.Trace, r.failFrame)
		}
	}
	select {
	case <-i.Done():
		t.Fatal("the instance ended after a handler error")
	default:
	}
	for _, line := range l.get() {
		if strings.Contains(line.Text, "boom") {
			return
		}
	}
	t.Errorf("the error was not logged: %+v", l.get())
}

func testCrash(t *testing.T, r *runner) {
	i := r.start(t, r.config("crash"))
	_, err := i.Invoke(context.Background(), request(`{}`))
	var f *instance.Failure
	if !errors.Is(err, instance.ErrCrashed) || !errors.As(err, &f) {
		t.Fatalf("err = %v, want ErrCrashed", err)
	}
	if f.Exit != "exit status 3" || !contains(f.Stderr, "about to crash") {
		t.Fatalf("failure = %+v, want exit status 3 and the last stderr line", f)
	}
}

func testHang(t *testing.T, r *runner) {
	i := r.start(t, r.config("hang"))
	req := request(`{}`)
	req.Deadline = time.Now().Add(1500 * time.Millisecond)
	started := time.Now()
	_, err := i.Invoke(context.Background(), req)
	if !errors.Is(err, instance.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(started); d > 15*time.Second {
		t.Errorf("the timeout took %s to be reported", d)
	}
	select {
	case <-i.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the instance still runs after its timeout")
	}
}

func testFlood(t *testing.T, r *runner) {
	const count, long = 2000, 100000
	var l lines
	cfg := r.config("flood")
	cfg.Logs = l.add
	i := r.start(t, cfg)
	req := request(fmt.Sprintf(`{"lines":%d,"long":%d}`, count, long))
	var got struct{ Printed int }
	invoke(t, i, req, &got)
	if got.Printed != count {
		t.Errorf("printed = %d, want %d", got.Printed, count)
	}
	next, xs := 0, 0
	for _, line := range l.get() {
		if line.RequestID != req.ID && (strings.HasPrefix(line.Text, "line ") || strings.HasPrefix(line.Text, "xxx")) {
			t.Fatalf("line %.40q tagged %q, want %q", line.Text, line.RequestID, req.ID)
		}
		switch {
		case strings.HasPrefix(line.Text, "line "):
			if line.Text != "line "+strconv.Itoa(next) || line.Stream != "stdout" {
				t.Fatalf("%s line %q, want stdout line %d", line.Stream, line.Text, next)
			}
			next++
		case strings.HasPrefix(line.Text, "xxx"):
			if len(line.Text) > instance.MaxLine || strings.Trim(line.Text, "x") != "" {
				t.Fatalf("a piece of the long line: %d bytes", len(line.Text))
			}
			if next != count {
				t.Fatalf("the long line came after %d numbered lines, want %d", next, count)
			}
			xs += len(line.Text)
		}
	}
	if next != count || xs != long {
		t.Errorf("got %d numbered lines and %d x's, want %d and %d", next, xs, count, long)
	}
}

func testEnv(t *testing.T, r *runner) {
	i := r.start(t, r.config("env"))
	var got struct{ Value string }
	invoke(t, i, request(`{"name":"CONFORMANCE_GREETING"}`), &got)
	if got.Value != "hello, sandbox" {
		t.Errorf("CONFORMANCE_GREETING = %q", got.Value)
	}
	invoke(t, i, request(`{"name":"AWS_LAMBDA_FUNCTION_NAME"}`), &got)
	if got.Value != "conformance-"+r.runtime {
		t.Errorf("AWS_LAMBDA_FUNCTION_NAME = %q", got.Value)
	}
}

func testContext(t *testing.T, r *runner) {
	var l lines
	cfg := r.config("context")
	cfg.Logs = l.add
	i := r.start(t, cfg)
	req := request(`{}`)
	req.Deadline = time.Now().Add(20 * time.Second)
	var got struct {
		RequestID       string `json:"requestId"`
		FunctionName    string `json:"functionName"`
		FunctionVersion any    `json:"functionVersion"`
		MemoryLimitInMB any    `json:"memoryLimitInMB"`
		Remaining       int64  `json:"remaining"`
	}
	invoke(t, i, req, &got)
	if got.RequestID != req.ID || got.FunctionName != cfg.Function ||
		fmt.Sprint(got.FunctionVersion) != "3" || fmt.Sprint(got.MemoryLimitInMB) != "256" {
		t.Errorf("context = %+v", got)
	}
	if got.Remaining <= 10000 || got.Remaining > 20000 {
		t.Errorf("remaining = %d ms, want a little under 20000", got.Remaining)
	}
	for _, line := range l.get() {
		if strings.Contains(line.Text, "logged via context") {
			if line.RequestID != req.ID {
				t.Errorf("the context's log line is tagged %q, want %q", line.RequestID, req.ID)
			}
			return
		}
	}
	t.Errorf("no line logged via the context: %+v", l.get())
}

func testCounter(t *testing.T, r *runner) {
	i := r.start(t, r.config("counter"))
	for n := 1; n <= 3; n++ {
		var got struct{ Count int }
		invoke(t, i, request(`{}`), &got)
		if got.Count != n {
			t.Fatalf("invocation %d: count = %d, the module state was not kept", n, got.Count)
		}
	}
}

func testMissing(t *testing.T, r *runner) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	i, err := instance.Start(ctx, r.cat, r.config("missing"))
	if err == nil {
		_ = i.Close()
		t.Fatal("an instance of a missing handler started")
	}
	var f *instance.Failure
	if !errors.Is(err, instance.ErrInit) || !errors.As(err, &f) || f.Function == nil || f.Function.Type == "" {
		t.Fatalf("err = %v, want ErrInit with what the bootstrap posted to /init/error", err)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
