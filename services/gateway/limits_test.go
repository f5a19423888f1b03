package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/gateway"
)

func version(fn string) events.Version {
	return events.Version{Function: fn, Version: 1, Config: events.Config{Timeout: events.Duration(5 * time.Second)}}
}

// Synchronous calls of one function beyond MaxWaiting are refused at once; others are not.
func TestSyncWaitingIsCapped(t *testing.T) {
	bus := bustest.Start(t)
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxWaiting: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(t.Context())
	waiting := make(chan error, 1)
	go func() { // no worker: it waits until cancelled
		_, err := g.Sync(ctx, gateway.Call{Version: version("f")})
		waiting <- err
	}()
	invoke, err := bus.JS.Stream(t.Context(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error { // counted before it publishes
		info, err := invoke.Info(t.Context(), jetstream.WithSubjectFilter(events.InvokeSubject("f")+".>"))
		if err != nil {
			return err
		}
		if info.State.Msgs == 0 {
			return errors.New("the first call of f is not on the bus yet")
		}
		return nil
	})
	if _, err := g.Sync(t.Context(), gateway.Call{Version: version("f")}); !errors.Is(err, gateway.ErrTooManyWaiting) {
		t.Fatalf("a second call of f: %v, want ErrTooManyWaiting", err)
	}
	short, stop := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer stop()
	if _, err := g.Sync(short, gateway.Call{Version: version("other")}); errors.Is(err, gateway.ErrTooManyWaiting) {
		t.Fatalf("a call of another function was refused: %v", err)
	}
	cancel()
	<-waiting
	short, stop = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer stop()
	if _, err := g.Sync(short, gateway.Call{Version: version("f")}); errors.Is(err, gateway.ErrTooManyWaiting) {
		t.Fatalf("a call of f after the first ended was refused: %v", err)
	}
}

// A full invocation queue refuses an asynchronous call with 507, leaves no record of it, and
// keeps the events it took.
func TestFullQueueRefusesAsync(t *testing.T) {
	bus := bustest.StartWith(t, events.BusOptions{Store: events.MinStore})
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	payload := []byte(`"` + strings.Repeat("x", 1<<20) + `"`)
	accepted := 0
	for i := 0; ; i++ {
		id := "00000000-0000-4000-8000-0000000000" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		_, err := g.Async(t.Context(), gateway.Call{ID: id, Version: version("f"), Data: payload})
		if err != nil {
			if !events.IsStoreFull(err) {
				t.Fatalf("call %d: %v, want a full queue", i, err)
			}
			if _, err := g.Result(t.Context(), id); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Fatalf("the refused call has a record: %v", err)
			}
			break
		}
		accepted++
		if i > 50 {
			t.Fatal("50 MiB queued in a 32 MiB store")
		}
	}
	s, _ := bus.JS.Stream(t.Context(), events.StreamInvoke)
	if info, _ := s.Info(t.Context()); int(info.State.Msgs) != accepted {
		t.Fatalf("the queue holds %d events, %d were accepted", info.State.Msgs, accepted)
	}

	// Over HTTP: 507 with what to do.
	api, root := mux.NewRouter(), mux.NewRouter()
	g.Routes(api, root)
	srv := httptest.NewServer(api)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/functions/f/invocations", strings.NewReader(string(payload)))
	req.Header.Set(wire.HeaderInvocationType, wire.InvocationEvent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(b), "invocation queue is full") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("async call on a full queue: %d %s", resp.StatusCode, b)
	}
}
