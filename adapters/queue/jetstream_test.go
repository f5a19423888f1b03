package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

func sourceStream(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"},
		MaxMsgSize: events.MaxPayload + 32<<10})
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// A burst into a stream read by two adapter processes of one trigger: every message invokes
// once; a huge one is terminated and reported; a consumer replaying everything adds nothing.
func TestJetStreamBurstHugeAndRedelivery(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	_, js := sourceStream(t, "nats://"+b.url())
	ctx := context.Background()
	const n = 300
	for i := range n {
		m := nats.NewMsg(fmt.Sprintf("orders.%d", i%3))
		m.Data = fmt.Appendf(nil, `{"order":%d}`, i)
		m.Header.Set("Content-Type", "application/json")
		m.Header.Set("Tenant", "acme")
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			if _, err := js.Publish(ctx, "orders.huge", make([]byte, events.MaxPayload+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	spec := events.QueueSpec{URL: "jetstream://" + b.url() + "/ORDERS", Batch: 20, MaxInFlight: 8}
	st1 := startAdapter(t, bus, "orders-trigger", "orders", spec)
	st2 := startAdapter(t, bus, "orders-trigger", "orders", spec)
	evs := waitStored(t, bus, "orders", n)
	ev := evs[0]
	if ev.Type() != events.TypeQueueMessage || ev.Source() != "jetstream://"+b.url()+"/ORDERS" ||
		!strings.HasPrefix(ev.Subject(), "orders.") || ev.DataContentType() != "application/json" ||
		!strings.HasPrefix(ev.ID(), "orders-trigger-ORDERS-") {
		t.Fatalf("event %s", ev)
	}
	if h := ev.Extensions()[queue.ExtHeaders]; h != `{"Tenant":["acme"]}` {
		t.Fatalf("headers extension %v", h)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		for _, st := range []*statuses{st1, st2} {
			if strings.Contains(st.last().LastError, "limit") {
				return nil
			}
		}
		return errors.New("huge message not reported")
	})
	s, _ := js.Stream(ctx, "ORDERS")
	cons, err := s.Consumer(ctx, "sluice-orders-trigger")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.NumPending != 0 || info.NumRedelivered != 0 {
			return fmt.Errorf("consumer not drained: %+v", info)
		}
		return nil
	})

	// Every message delivered again (a consumer lost and replayed): the bus absorbs all of it.
	if err := s.DeleteConsumer(ctx, "sluice-orders-trigger"); err != nil {
		t.Fatal(err)
	}
	st3 := startAdapter(t, bus, "orders-trigger", "orders", spec)
	st3.waitState(t, 10*time.Second, events.StateRunning)
	testkit.Eventually(t, 10*time.Second, func() error {
		info, err := s.Consumer(ctx, "sluice-orders-trigger")
		if err != nil {
			return err
		}
		if ci := info.CachedInfo(); ci.Delivered.Stream < uint64(n+1) {
			return fmt.Errorf("replayed up to %d", ci.Delivered.Stream)
		}
		return nil
	})
	waitStored(t, bus, "orders", n)
}

// A stream on a broker that is down at start, then goes away and comes back: retried and
// reported, nothing lost.
func TestJetStreamBrokerDownThenUp(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	st := startAdapter(t, bus, "t-down", "fn", events.QueueSpec{URL: "jetstream://" + b.url() + "/ORDERS"})
	st.waitState(t, 5*time.Second, events.StateRetrying)
	b.start()
	_, js := sourceStream(t, "nats://"+b.url())
	st.waitState(t, 10*time.Second, events.StateRunning)
	for i := range 20 {
		if _, err := js.Publish(context.Background(), "orders.a", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitStored(t, bus, "fn", 20)

	b.stop()
	st.waitState(t, 10*time.Second, events.StateRetrying)
	if st.last().LastError == "" {
		t.Fatal("retrying without an error")
	}
	b.start()
	st.waitState(t, 10*time.Second, events.StateRunning)
	nc, err := nats.Connect("nats://" + b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	for i := range 20 {
		if _, err := js.Publish(context.Background(), "orders.b", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitStored(t, bus, "fn", 40)
}
