package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/runtimes/internal/codetest"
)

func TestNodeCallbackHandlers(t *testing.T) {
	cat := newCatalog(t)
	fx := suite[1]
	i := start(t, cat, config(t, fx, "callback"))
	resp, err := i.Invoke(context.Background(), request(`{"a":1}`))
	if err != nil || resp.Error != nil || !codetest.JSONEqual(t, resp.Payload, []byte(`{"via":"callback","event":{"a":1}}`)) {
		t.Fatalf("callback: %v %+v %s", err, resp.Error, resp.Payload)
	}
	j := start(t, cat, config(t, fx, "callbackError"))
	resp, err = j.Invoke(context.Background(), request(`{}`))
	if err != nil || resp.Error == nil || resp.Error.Type != "RangeError" || resp.Error.Message != "bad range" {
		t.Fatalf("callback error: %v %+v", err, resp.Error)
	}
}

func TestNodeUncaughtExceptionFailsThenEnds(t *testing.T) {
	cat := newCatalog(t)
	i := start(t, cat, config(t, suite[1], "uncaught"))
	resp, err := i.Invoke(context.Background(), request(`{}`))
	if err != nil || resp.Error == nil || resp.Error.Message != "stray" {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	waitDone(t, i) // the worker replaces such an instance
	if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrCrashed) {
		t.Fatalf("invoke after the exit: %v, want ErrCrashed", err)
	}
}

func TestNodeESModule(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[1], "x")
	cfg.CodeDir, cfg.Handler = testdata(t, "nodeesm"), "index.handler"
	i := start(t, cat, cfg)
	req := request(`"hi"`)
	resp, err := i.Invoke(context.Background(), req)
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	var got struct {
		ESM   bool   `json:"esm"`
		ID    string `json:"id"`
		Event string `json:"event"`
	}
	if err := json.Unmarshal(resp.Payload, &got); err != nil || !got.ESM || got.ID != req.ID || got.Event != "hi" {
		t.Fatalf("esm = %s (%v)", resp.Payload, err)
	}
}

// One Node.js instance with concurrency 4 runs four invocations at once (each handler waits
// until all four have arrived), and every line each prints, whole or in pieces, from awaits and
// timers, on stdout or stderr, is attributed to its own invocation.
// The same holds for a pre-started process specialised with a concurrency of 4.
func TestNodeConcurrentInvocationsKeepTheirLines(t *testing.T) {
	cat := newCatalog(t)
	t.Run("started", func(t *testing.T) {
		var got logs
		cfg := config(t, suite[1], "chatty")
		cfg.Concurrency, cfg.Logs = 4, got.add
		concurrentLines(t, start(t, cat, cfg), &got)
	})
	t.Run("prestarted", func(t *testing.T) {
		var got logs
		cfg := config(t, suite[1], "chatty")
		cfg.Concurrency, cfg.Logs = 4, got.add
		i := prestarted(t, cat, "nodejs")
		if err := i.Specialize(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		concurrentLines(t, i, &got)
	})
}

func concurrentLines(t *testing.T, i *Instance, got *logs) {
	const together, lines = 4, 30
	reqs := make([]Request, together)
	var wg sync.WaitGroup
	errs := make([]error, together)
	for k := range reqs {
		reqs[k] = request(fmt.Sprintf(`{"tag":"inv%d","together":%d,"lines":%d}`, k, together, lines))
		wg.Go(func() {
			resp, err := i.Invoke(context.Background(), reqs[k])
			if err == nil && (resp.Error != nil || string(resp.Payload) != fmt.Sprintf(`"inv%d"`, k)) {
				err = fmt.Errorf("answer %s %+v", resp.Payload, resp.Error)
			}
			errs[k] = err
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Fatalf("invocation %d: %v", k, err)
		}
	}
	byID := map[string][]string{}
	for _, l := range got.get() {
		byID[l.RequestID] = append(byID[l.RequestID], l.Text)
	}
	for k, req := range reqs {
		tag := fmt.Sprintf("inv%d", k)
		seen := map[string]bool{}
		for _, text := range byID[req.ID] {
			if !strings.HasPrefix(text, tag+" ") {
				t.Fatalf("invocation %s got the line %q", tag, text)
			}
			seen[text] = true
		}
		for n := range lines {
			if !seen[fmt.Sprintf("%s %d", tag, n)] {
				t.Fatalf("invocation %s lacks line %d; it has %q", tag, n, byID[req.ID])
			}
		}
		if !seen[tag+" last without a newline"] {
			t.Fatalf("invocation %s lacks its partial last line; it has %q", tag, byID[req.ID])
		}
	}
	if len(byID[""]) > 0 {
		t.Fatalf("lines attributed to no invocation: %q", byID[""])
	}
}

func TestConcurrencyNeedsAConcurrentRuntime(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[0], "echo")
	cfg.Concurrency = 2
	_, err := Start(context.Background(), cat, cfg)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "nodejs") {
		t.Fatalf("start python with concurrency 2: %v, want ErrConfig naming nodejs", err)
	}
}

// When one of a concurrent instance's invocations times out, the instance is killed and the
// others fail with ErrCrashed, naming the invocation that timed out.
func TestNodeConcurrentTimeoutEndsTheOthers(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[1], "sleep")
	cfg.Concurrency = 2
	i := start(t, cat, cfg)
	long := request(`{}`)
	short := request(`{}`)
	short.Deadline = time.Now().Add(time.Second)
	other := make(chan error, 1)
	go func() {
		_, err := i.Invoke(context.Background(), long)
		other <- err
	}()
	if _, err := i.Invoke(context.Background(), short); !errors.Is(err, ErrTimeout) {
		t.Fatalf("the short one: %v, want ErrTimeout", err)
	}
	select {
	case err := <-other:
		if !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), short.ID) {
			t.Fatalf("the long one: %v, want ErrCrashed naming %s", err, short.ID)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long invocation did not end with its instance")
	}
}

// An uncaught exception in a concurrent instance fails every invocation in flight with it (the
// answers go on a connection of their own, the loops' wait on /next), then ends the process.
func TestNodeConcurrentUncaughtExceptionFailsAllInFlight(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[1], "uncaught")
	cfg.Concurrency = 2
	i := start(t, cat, cfg)
	type answer struct {
		resp Response
		err  error
	}
	answers := make(chan answer, 2)
	for range 2 {
		req := request(`{}`)
		go func() {
			resp, err := i.Invoke(context.Background(), req)
			answers <- answer{resp, err}
		}()
	}
	stray := 0
	for range 2 {
		select {
		case a := <-answers:
			switch {
			case a.err == nil && a.resp.Error != nil && a.resp.Error.Message == "stray":
				stray++
			case errors.Is(a.err, ErrCrashed): // handed in after the process began to end
			default:
				t.Fatalf("invoke: %v %+v, want the stray error or ErrCrashed", a.err, a.resp.Error)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("an invocation did not end")
		}
	}
	if stray == 0 {
		t.Fatal("no invocation got the uncaught exception as its error")
	}
	waitDone(t, i)
}
