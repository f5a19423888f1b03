package gateway_test

import (
	"io"
	"log/slog"
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
// it is stored. It returns the answer and how long the call waited before its event was stored.
func storedCall(t *testing.T, direct func(nc *nats.Conn, m *nats.Msg)) (events.Result, time.Duration) {
	t.Helper()
	bus := bustest.Start(t)
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	began := time.Now()
	stored := make(chan time.Duration, 1)
	go func() {
		msg, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Error(err)
			return
		}
		stored <- time.Since(began)
		_ = bus.Conn.PublishMsg(events.NewReply(msg.Headers().Get(events.HeaderReply), events.Result{Outcome: events.OutcomeOK, Version: 1, Payload: []byte(`"stored"`)}))
		_ = msg.Ack()
	}()
	r, err := g.Sync(t.Context(), gateway.Call{Version: version("f")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-stored:
		return r, d
	default:
		return r, -1
	}
}

// With no worker on the direct path, or one that is busy, the call is stored at once.
func TestADirectCallNobodyTakesIsStoredAtOnce(t *testing.T) {
	for name, direct := range map[string]func(*nats.Conn, *nats.Msg){
		"no worker": nil,
		"busy": func(nc *nats.Conn, m *nats.Msg) {
			_ = nc.PublishMsg(events.NewDirectWord(m.Header.Get(events.HeaderReply), events.DirectBusy))
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, d := storedCall(t, direct)
			if string(r.Payload) != `"stored"` || d < 0 || d > 2*time.Second {
				t.Fatalf("answer %s after the event was stored in %v; want the stored event's answer, stored at once", r.Payload, d)
			}
		})
	}
}

// A worker that takes a direct call and falls silent (it died) has the call stored once
// DirectSilence passed, and the durable path answers; one that says it runs still is waited for.
func TestASilentDirectCallIsStored(t *testing.T) {
	r, d := storedCall(t, func(*nats.Conn, *nats.Msg) {})
	if string(r.Payload) != `"stored"` || d < events.DirectSilence || d > events.DirectSilence+3*time.Second {
		t.Fatalf("answer %s, stored after %v; want it stored after the silence of %v", r.Payload, d, events.DirectSilence)
	}
	r, d = storedCall(t, func(nc *nats.Conn, m *nats.Msg) {
		inbox := m.Header.Get(events.HeaderReply)
		go func() {
			for range 7 { // past DirectSilence, never silent for long
				time.Sleep(time.Second)
				_ = nc.PublishMsg(events.NewDirectWord(inbox, events.DirectRunning))
			}
			_ = nc.PublishMsg(events.NewReply(inbox, events.Result{Outcome: events.OutcomeOK, Version: 1, Payload: []byte(`"direct"`)}))
		}()
	})
	if string(r.Payload) != `"direct"` || d >= 0 {
		t.Fatalf("answer %s, stored after %v; want the direct answer and nothing stored", r.Payload, d)
	}
}
