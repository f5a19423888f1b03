package manager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/manager"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// probe is a fake kind whose adapters log their lives: "start <id> <expr>" and "stop <id>".
// The expression "panic" panics, "fail" returns an error.
type probe struct {
	mu  sync.Mutex
	log []string
}

func (p *probe) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, s)
}

func (p *probe) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

func (p *probe) factory(spec events.Trigger) (trigger.Adapter, error) {
	if spec.Cron.Expr == "bad" {
		return nil, fmt.Errorf("%w: bad", events.ErrInvalidTrigger)
	}
	return adapterFunc(func(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
		p.add("start " + spec.ID + " " + spec.Cron.Expr)
		defer p.add("stop " + spec.ID)
		switch spec.Cron.Expr {
		case "panic":
			panic("boom")
		case "fail":
			report(events.TriggerStatus{State: events.StateFailed, LastError: "cannot"})
			return errors.New("cannot")
		}
		report(events.TriggerStatus{State: events.StateRunning, Events: 1})
		<-ctx.Done()
		return nil
	}), nil
}

type adapterFunc func(context.Context, trigger.Publisher, trigger.Reporter) error

func (f adapterFunc) Run(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
	return f(ctx, pub, report)
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, string, event.Event) error { return nil }

func put(t *testing.T, kv jetstream.KeyValue, id, expr string) {
	t.Helper()
	b, _ := json.Marshal(events.Trigger{ID: id, Function: "job", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: expr}})
	if _, err := kv.Put(t.Context(), events.TriggerKey(id), b); err != nil {
		t.Fatal(err)
	}
}

func status(kv jetstream.KeyValue, id string) (events.TriggerStatus, error) {
	var st events.TriggerStatus
	e, err := kv.Get(context.Background(), events.TriggerStatusKey(id))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(e.Value(), &st)
}

func wantStatus(t *testing.T, kv jetstream.KeyValue, id string, state events.TriggerState, errPart string) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, func() error {
		st, err := status(kv, id)
		if err != nil {
			return err
		}
		if st.State != state || !strings.Contains(st.LastError, errPart) || st.Owner != "test-owner" || st.ID != id {
			return fmt.Errorf("status %+v, want %s %q", st, state, errPart)
		}
		return nil
	})
}

func wantLog(t *testing.T, p *probe, want ...string) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, func() error {
		if got := p.lines(); !slices.Equal(got, want) {
			return fmt.Errorf("adapter lives %q, want %q", got, want)
		}
		return nil
	})
}

func TestManagerFollowsTheBucket(t *testing.T) {
	bus := bustest.Start(t)
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	p := &probe{}
	put(t, kv, "before", "a") // present before the manager starts
	m := manager.New(kv, nopPublisher{}, map[string]trigger.Factory{events.TriggerCron: p.factory}, manager.Options{Owner: "test-owner"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	wantLog(t, p, "start before a")
	wantStatus(t, kv, "before", events.StateRunning, "")

	put(t, kv, "before", "a") // the same spec again: nothing happens
	put(t, kv, "before", "b") // a change: restarted
	wantLog(t, p, "start before a", "stop before", "start before b")

	if err := kv.Delete(t.Context(), events.TriggerKey("before")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, p, "start before a", "stop before", "start before b", "stop before")
	testkit.Eventually(t, 5*time.Second, func() error {
		if _, err := status(kv, "before"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("status of a deleted trigger: %v", err)
		}
		return nil
	})

	// A panic, a failure, a bad spec and an unknown kind are reported failed; the manager lives on.
	put(t, kv, "boom", "panic")
	wantStatus(t, kv, "boom", events.StateFailed, "adapter panicked: boom")
	put(t, kv, "nope", "fail")
	wantStatus(t, kv, "nope", events.StateFailed, "cannot")
	put(t, kv, "bad", "bad")
	wantStatus(t, kv, "bad", events.StateFailed, "invalid trigger: bad")
	b, _ := json.Marshal(events.Trigger{ID: "q", Function: "job", Kind: events.TriggerQueue, Queue: &events.QueueSpec{URL: "nats://x/y"}})
	if _, err := kv.Put(t.Context(), events.TriggerKey("q"), b); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, kv, "q", events.StateFailed, `no adapter for kind "queue"`)

	put(t, kv, "later", "c")
	wantStatus(t, kv, "later", events.StateRunning, "")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := p.lines(); got[len(got)-1] != "stop later" {
		t.Fatalf("adapters not stopped with the manager: %q", got)
	}
}

func TestManagerStatusHidesSecrets(t *testing.T) {
	bus := bustest.Start(t)
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "queue-password-never-shown"
	// An adapter that quotes its URL, password and all, in what it reports and returns.
	quoting := func(spec events.Trigger) (trigger.Adapter, error) {
		return adapterFunc(func(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
			report(events.TriggerStatus{State: events.StateRetrying, LastError: "dial " + spec.Queue.URL + ": refused"})
			if spec.Queue.MaxInFlight == 1 {
				return errors.New("gave up on " + spec.Queue.URL)
			}
			<-ctx.Done()
			return nil
		}), nil
	}
	m := manager.New(kv, nopPublisher{}, map[string]trigger.Factory{events.TriggerQueue: quoting}, manager.Options{Owner: "test-owner"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = m.Run(ctx) }()

	for id, inFlight := range map[string]int{"retrying": 0, "failing": 1} {
		b, _ := json.Marshal(events.Trigger{ID: id, Function: "job", Kind: events.TriggerQueue,
			Queue: &events.QueueSpec{URL: "amqp://guest:" + secret + "@127.0.0.1:5672/orders", MaxInFlight: inFlight}})
		if _, err := kv.Put(t.Context(), events.TriggerKey(id), b); err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, kv, "retrying", events.StateRetrying, "dial amqp://guest:***@127.0.0.1:5672/orders: refused")
	wantStatus(t, kv, "failing", events.StateFailed, "gave up on amqp://guest:***@127.0.0.1:5672/orders")
	for _, id := range []string{"retrying", "failing"} {
		if st, err := status(kv, id); err != nil || strings.Contains(st.LastError, secret) {
			t.Errorf("status of %s: %+v %v", id, st, err)
		}
	}
}
