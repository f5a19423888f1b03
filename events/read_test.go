package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// Reads leave no consumer behind: a client polling the logs many times a second must not use up
// the thousand consumers the server allows a stream.
func TestReadsLeaveNoConsumerBehind(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	if _, err := bus.JS.Publish(ctx, events.MetersSubject("f"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s, err := bus.JS.Stream(ctx, events.StreamMeters)
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		it, stop, err := events.ReadStream(ctx, s, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.MetersSubject("f")}})
		if err != nil {
			t.Fatal(err)
		}
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil || string(m.Data()) != `{}` {
			t.Fatalf("read: %v", err)
		}
		stop()
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers left behind by 30 reads", info.State.Consumers)
	}
}
