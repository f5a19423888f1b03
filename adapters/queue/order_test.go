package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// inOrder checks that each key's events were stored in the order their messages were sent:
// the data of the n-th event of a key is n, and every event carries its key.
func inOrder(t *testing.T, evs []event.Event, keys int) {
	t.Helper()
	next := map[string]int{}
	for _, ev := range evs {
		key := events.OrderKey(ev)
		var n int
		if _, err := fmt.Sscanf(string(ev.Data()), "%d", &n); err != nil {
			t.Fatalf("event data %q", ev.Data())
		}
		if key == "" || n != next[key] {
			t.Fatalf("event %s of key %q carries %d, want %d", ev.ID(), key, n, next[key])
		}
		next[key]++
	}
	if len(next) != keys {
		t.Fatalf("%d keys, want %d", len(next), keys)
	}
}

// Messages of a stream keyed by a header are stored per key in the order they were sent, though
// sixteen deliveries are in flight at once.
func TestJetStreamOrderKeyFromAHeader(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	_, js := sourceStream(t, "nats://"+b.url())
	const keys, each = 4, 25
	for i := range each {
		for k := range keys {
			m := nats.NewMsg("orders.new")
			m.Header.Set("Customer", fmt.Sprint("c", k))
			m.Data = fmt.Append(nil, i)
			if _, err := js.PublishMsg(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	startAdapter(t, bus, "orders", "orders", events.QueueSpec{URL: "jetstream://" + b.url() + "/ORDERS", OrderKey: "header:customer"})
	inOrder(t, waitStored(t, bus, "orders", keys*each), keys)
}

// Core NATS messages keyed by a subject token.
func TestNATSOrderKeyFromASubjectToken(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	st := startAdapter(t, bus, "ticks", "ticks", events.QueueSpec{URL: "nats://" + b.url() + "/shop.*.orders", OrderKey: "subject:2"})
	st.waitState(t, 5e9, events.StateRunning)
	nc, err := nats.Connect("nats://" + b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const keys, each = 3, 30
	for i := range each {
		for k := range keys {
			if err := nc.Publish(fmt.Sprintf("shop.s%d.orders", k), fmt.Append(nil, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	inOrder(t, waitStored(t, bus, "ticks", keys*each), keys)
}

// RabbitMQ messages keyed by their routing key.
func TestAMQPOrderKeyFromTheRoutingKey(t *testing.T) {
	url := rabbitURL(t)
	bus := bustest.Start(t)
	ch := declareQueue(t, url, "keyed")
	if err := ch.ExchangeDeclare("shop", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("keyed", "orders.*", "shop", false, nil); err != nil {
		t.Fatal(err)
	}
	const keys, each = 3, 20
	for i := range each {
		for k := range keys {
			conf, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "shop", fmt.Sprint("orders.c", k), false, false,
				amqp.Publishing{MessageId: fmt.Sprintf("m%d-%d", k, i), Body: fmt.Append(nil, i)})
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := conf.WaitContext(context.Background()); !ok || err != nil {
				t.Fatalf("not confirmed: %v", err)
			}
		}
	}
	startAdapter(t, bus, "keyed", "keyed", events.QueueSpec{URL: url + "/keyed", OrderKey: "routing-key"})
	inOrder(t, waitStored(t, bus, "keyed", keys*each), keys)
}

// An order key a source cannot have is refused when the trigger is made.
func TestOrderKeysASourceCannotHave(t *testing.T) {
	for _, q := range []events.QueueSpec{
		{URL: "nats://127.0.0.1:4222/x", OrderKey: "routing-key"},
		{URL: "amqp://guest:guest@127.0.0.1:5672/q", OrderKey: "subject:1"},
		{URL: "nats://127.0.0.1:4222/x", OrderKey: "object-key"},
		{URL: "nats://127.0.0.1:4222/x", OrderKey: "header:"},
		{URL: "nats://127.0.0.1:4222/x", OrderKey: "subject:0"},
		{URL: "nats://127.0.0.1:4222/x", OrderKey: "header:a", Batching: &events.Batch{Size: 2}},
	} {
		spec := events.Trigger{ID: "t", Function: "f", Kind: events.TriggerQueue, Queue: &q}
		if _, err := queue.New(spec); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%+v: %v, want ErrInvalidTrigger", q, err)
		}
	}
}
