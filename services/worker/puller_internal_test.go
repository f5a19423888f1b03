package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// pullFixture is a function's consumer on a real bus and a puller of it.
type pullFixture struct {
	bus  *bustest.Bus
	cons jetstream.Consumer
	pl   *puller
	fn   string
}

func newPullFixture(t *testing.T) *pullFixture {
	t.Helper()
	bus := bustest.Start(t)
	const fn = "f"
	cons, err := bus.JS.CreateOrUpdateConsumer(t.Context(), events.StreamInvoke, events.ConsumerConfig(fn))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newPuller(bus.Conn, events.StreamInvoke, events.ConsumerName(fn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.close)
	return &pullFixture{bus: bus, cons: cons, pl: pl, fn: fn}
}

// publish stores n events with ids from first on.
func (f *pullFixture) publish(t *testing.T, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("e%d", i)
		if _, err := f.bus.JS.Publish(t.Context(), events.EventSubject(f.fn, id), []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(ms []jetstream.Msg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Data()))
	}
	return out
}

// A request without waiting takes what the consumer holds, up to its batch, and ends at once
// when it holds none; a waiting one ends at its expiry without an event.
func TestPullerFetches(t *testing.T) {
	f := newPullFixture(t)
	if got, err := f.pl.fetch(t.Context(), 4, 0); err != nil || len(got) != 0 {
		t.Fatalf("nothing stored: %v, %v; want no events and no error", ids(got), err)
	}
	began := time.Now()
	if got, err := f.pl.fetch(t.Context(), 1, 200*time.Millisecond); !errors.Is(err, nats.ErrTimeout) || len(got) != 0 {
		t.Fatalf("waiting for none: %v, %v; want a time-out", ids(got), err)
	} else if waited := time.Since(began); waited < 150*time.Millisecond || waited > statusMargin {
		t.Fatalf("waited %s for a request of 200ms", waited)
	}
	f.publish(t, 0, 3)
	got, err := f.pl.fetch(t.Context(), 5, 0)
	if err != nil || fmt.Sprint(ids(got)) != "[e0 e1 e2]" {
		t.Fatalf("three stored, five asked: %v, %v", ids(got), err)
	}
	for _, m := range got {
		if md, err := m.Metadata(); err != nil || md.Stream != events.StreamInvoke || md.NumDelivered != 1 {
			t.Fatalf("metadata of %s: %+v, %v", m.Data(), md, err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		info, err := f.cons.Info(t.Context())
		if err != nil || info.NumAckPending != 0 || info.NumPending != 0 {
			return fmt.Errorf("consumer after the acks: %+v, %v", info, err)
		}
		return nil
	})
}

// An event delivered for a request given up (its caller's context ended) is taken by the next
// fetch without asking again, and the time-out of that request does not end a later one.
func TestPullerKeepsWhatARequestGivenUpBrought(t *testing.T) {
	f := newPullFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.pl.fetch(ctx, 1, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("given up: %v", err)
	}
	// The server still holds that request for 250ms more: a later request must wait past its end.
	go func() {
		time.Sleep(600 * time.Millisecond)
		f.publish(t, 0, 1)
	}()
	got, err := f.pl.fetch(t.Context(), 1, 2*time.Second)
	if err != nil || fmt.Sprint(ids(got)) != "[e0]" {
		t.Fatalf("after a given-up request's time-out: %v, %v; want e0", ids(got), err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.pl.fetch(ctx, 1, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("given up: %v", err)
	}
	f.publish(t, 1, 1) // delivered for the request given up
	testkit.Eventually(t, 5*time.Second, func() error {
		if len(f.pl.msgs) == 0 {
			return errors.New("not delivered yet")
		}
		return nil
	})
	sent := f.pl.n
	if got, err := f.pl.fetch(t.Context(), 1, 0); err != nil || fmt.Sprint(ids(got)) != "[e1]" || f.pl.n != sent {
		t.Fatalf("left delivery: %v, %v, %d requests more; want e1 without a request", ids(got), err, f.pl.n-sent)
	}
}

// A consumer deleted while a request waits ends it with jetstream.ErrConsumerDeleted, which
// makes the pull loop bind the consumer again.
func TestPullerSaysTheConsumerIsGone(t *testing.T) {
	f := newPullFixture(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = f.bus.JS.DeleteConsumer(t.Context(), events.StreamInvoke, events.ConsumerName(f.fn))
	}()
	if _, err := f.pl.fetch(t.Context(), 1, 5*time.Second); !errors.Is(err, jetstream.ErrConsumerDeleted) {
		t.Fatalf("deleted consumer: %v", err)
	}
}
