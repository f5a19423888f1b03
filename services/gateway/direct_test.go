package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/gateway"
)

// storedCall makes a synchronous call of f while the test plays the workers: direct answers the
// direct offer (nil: no worker takes direct calls), and a durable worker answers the event once
// it is stored. silence is the gateway's DirectSilence. It returns the answer and whether the
// event was stored.
func storedCall(t *testing.T, silence time.Duration, direct func(nc *nats.Conn, m *nats.Msg)) (events.Result, bool) {
	t.Helper()
	bus := bustest.Start(t)
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, DirectSilence: silence})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if direct != nil {
		sub, err := bus.Conn.QueueSubscribe(events.DirectSubject("f"), events.DirectQueue("f"), func(m *nats.Msg) { direct(bus.Conn, m) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	cons, err := bus.JS.CreateOrUpdateConsumer(t.Context(), events.StreamInvoke, events.ConsumerConfig("f"))
	if err != nil {
		t.Fatal(err)
	}
	stored := make(chan struct{})
	go func() {
		msg, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			return // not stored
		}
		close(stored)
		_ = bus.Conn.PublishMsg(events.NewReply(msg.Headers().Get(events.HeaderReply), events.Result{Outcome: events.OutcomeOK, Version: 1, Payload: []byte(`"stored"`)}))
		_ = msg.Ack()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	r, err := g.Sync(ctx, gateway.Call{Version: version("f")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-stored:
		return r, true
	default:
		return r, false
	}
}

// With no worker on the direct path, or one that is busy, the call is stored without waiting out
// the silence (an hour here: a call that waited for it would get no answer).
func TestADirectCallNobodyTakesIsStoredAtOnce(t *testing.T) {
	for name, direct := range map[string]func(*nats.Conn, *nats.Msg){
		"no worker": nil,
		"busy": func(nc *nats.Conn, m *nats.Msg) {
			_ = nc.PublishMsg(events.NewDirectWord(m.Header.Get(events.HeaderReply), events.DirectBusy))
		},
	} {
		t.Run(name, func(t *testing.T) {
			if r, stored := storedCall(t, time.Hour, direct); string(r.Payload) != `"stored"` || !stored {
				t.Fatalf("answer %s, stored %v; want the stored event's answer", r.Payload, stored)
			}
		})
	}
}

// A worker that takes a direct call and falls silent (it died) has the call stored once the
// silence passed, and the durable path answers; one that says it runs still is waited for past
// the silence, and its answer taken.
func TestASilentDirectCallIsStored(t *testing.T) {
	const silence = time.Second
	if r, stored := storedCall(t, silence, func(*nats.Conn, *nats.Msg) {}); string(r.Payload) != `"stored"` || !stored {
		t.Fatalf("silent worker: answer %s, stored %v; want the stored event's answer", r.Payload, stored)
	}
	r, stored := storedCall(t, silence, func(nc *nats.Conn, m *nats.Msg) {
		inbox := m.Header.Get(events.HeaderReply)
		go func() {
			for range 20 { // twice the silence, never silent for long
				time.Sleep(silence / 10)
				_ = nc.PublishMsg(events.NewDirectWord(inbox, events.DirectRunning))
			}
			_ = nc.PublishMsg(events.NewReply(inbox, events.Result{Outcome: events.OutcomeOK, Version: 1, Payload: []byte(`"direct"`)}))
		}()
	})
	if string(r.Payload) != `"direct"` || stored {
		t.Fatalf("beating worker: answer %s, stored %v; want the direct answer and nothing stored", r.Payload, stored)
	}
}
