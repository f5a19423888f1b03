package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func TestPublishesInOrderAndFlushesOnStop(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 1000, slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	const n = 500
	for i := range n {
		p.Log(events.LogLine{Function: "f", InvocationID: "inv", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	p.Meter(events.Meter{InvocationID: "inv", Function: "f", Outcome: events.OutcomeOK})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Dropped() != 0 {
		t.Fatalf("dropped %d", p.Dropped())
	}
	c, err := bus.JS.OrderedConsumer(context.Background(), events.StreamLogs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.LogsSubject("f")}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		var l events.LogLine
		if err := json.Unmarshal(m.Data(), &l); err != nil || l.Message != fmt.Sprint(i) {
			t.Fatalf("line %d = %q, %v", i, l.Message, err)
		}
	}
	s, _ := bus.JS.Stream(context.Background(), events.StreamMeters)
	if _, err := s.GetLastMsgForSubject(context.Background(), events.MetersSubject("f")); err != nil {
		t.Fatalf("meter: %v", err)
	}
}

func TestFullBufferDropsAndCounts(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 2, slog.Default()) // not running: nothing drains
	for range 5 {
		p.Log(events.LogLine{Function: "f", Message: "x"})
	}
	if p.Dropped() != 3 {
		t.Fatalf("dropped = %d, want 3", p.Dropped())
	}
}

func TestObserverSeesEveryMeterEvenDropped(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 1, slog.Default()) // not running: the second meter is dropped
	var seen []string
	p.OnMeter(func(m events.Meter) { seen = append(seen, m.InvocationID) })
	p.Meter(events.Meter{InvocationID: "a", Function: "f"})
	p.Meter(events.Meter{InvocationID: "b", Function: "f"})
	if fmt.Sprint(seen) != "[a b]" || p.Dropped() != 1 {
		t.Fatalf("seen %v, dropped %d; want [a b], 1", seen, p.Dropped())
	}
}
