package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// TestPublishRetryWaitsForTheStream: a publish while no stream answers for the subject (as while
// a cluster elects a leader) fails at once without PublishRetry, and is stored once with it when
// the stream comes back within the patience, even when sent twice.
func TestPublishRetryWaitsForTheStream(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	if err := bus.JS.DeleteStream(ctx, events.StreamInvoke); err != nil {
		t.Fatal(err)
	}
	msg := func() *nats.Msg {
		m := nats.NewMsg(events.InvokeSubject("f"))
		m.Header.Set(jetstream.MsgIDHeader, "ev-1")
		m.Data = []byte(`{}`)
		return m
	}
	if _, err := bus.JS.PublishMsg(ctx, msg()); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("plain publish without a stream: %v, want %v", err, jetstream.ErrNoStreamResponse)
	}

	back := make(chan error, 1)
	go func() {
		time.Sleep(time.Second) // a sleep is the scenario: the stream stays away a while, and returns while the publishes below retry
		back <- events.Ensure(ctx, bus.JS, events.BusOptions{})
	}()
	first, err := bus.JS.PublishMsgAsync(msg(), events.PublishRetry()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.JS.PublishMsg(ctx, msg(), events.PublishRetry()...); err != nil {
		t.Fatalf("publish with retry: %v", err)
	}
	select {
	case <-first.Ok():
	case err := <-first.Err():
		t.Fatalf("async publish with retry: %v", err)
	case <-time.After(events.PublishPatience):
		t.Fatal("async publish with retry never answered")
	}
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	s, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d events stored, want 1 (the same event id twice)", info.State.Msgs)
	}
}
