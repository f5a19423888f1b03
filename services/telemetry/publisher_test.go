package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// run starts p's drain for the test; the returned func stops it and waits for it.
func run(t *testing.T, p *Publisher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// lines reads every log line of fn on the bus.
func lines(t *testing.T, js jetstream.JetStream, fn string) []events.LogLine {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamLogs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.LogsSubject(fn)))
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.State.Subjects[events.LogsSubject(fn)])
	c, err := js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.LogsSubject(fn)}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]events.LogLine, 0, n)
	for len(out) < n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("line %d of %d: %v", len(out), n, err)
		}
		var l events.LogLine
		if err := json.Unmarshal(m.Data(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// linesN waits until fn has n log lines on the bus, and returns them.
func linesN(t *testing.T, js jetstream.JetStream, fn string, n int) []events.LogLine {
	t.Helper()
	var got []events.LogLine
	testkit.Eventually(t, 5*time.Second, func() error {
		if got = lines(t, js, fn); len(got) != n {
			return fmt.Errorf("%d lines of %s stored, want %d", len(got), fn, n)
		}
		return nil
	})
	return got
}

func meters(t *testing.T, js jetstream.JetStream, fn string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), events.StreamMeters)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(events.MetersSubject(fn)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[events.MetersSubject(fn)]
}

func TestPublishesInOrderAndFlushesOnStop(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 1000, slog.Default())
	stop := run(t, p)
	const n = 500
	for i := range n {
		p.Log(events.LogLine{Function: "f", InvocationID: "inv", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	if err := p.Meter(context.Background(), events.Meter{InvocationID: "inv", Function: "f", Outcome: events.OutcomeOK}, events.MeterMsgID("inv", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if got := meters(t, bus.JS, "f"); got != 1 {
		t.Fatalf("Meter returned with %d records stored, want 1", got)
	}
	stop()
	if p.Dropped() != 0 {
		t.Fatalf("dropped %d", p.Dropped())
	}
	got := linesN(t, bus.JS, "f", n)
	for i, l := range got {
		if l.Message != fmt.Sprint(i) {
			t.Fatalf("line %d = %q", i, l.Message)
		}
	}
}

// A function that fills its queue loses its own lines only, and its logs then say how many.
func TestFloodDropsOnlyItsOwnLinesAndSaysHowMany(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 100, slog.Default()) // not running yet: nothing drains
	for i := range 1000 {
		p.Log(events.LogLine{Function: "loud", Instance: "i1", InvocationID: "a", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	p.Log(events.LogLine{Function: "loud", InvocationID: "a", Stream: platform, Message: "END RequestId: a"})
	for i := range 10 {
		p.Log(events.LogLine{Function: "quiet", InvocationID: "b", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	if p.Dropped() != 900 {
		t.Fatalf("dropped %d, want 900", p.Dropped())
	}
	stop := run(t, p)
	testkit.Eventually(t, 5*time.Second, func() error {
		if got := len(lines(t, bus.JS, "loud")); got != 102 {
			return fmt.Errorf("%d lines of loud, want 100, END and the marker", got)
		}
		return nil
	})
	// Drained below half, the queue takes lines again.
	p.Log(events.LogLine{Function: "loud", InvocationID: "c", Stream: "stdout", Message: "after"})
	stop()

	linesN(t, bus.JS, "quiet", 10)
	loud := linesN(t, bus.JS, "loud", 103)
	for i := range 100 {
		if loud[i].Message != fmt.Sprint(i) {
			t.Fatalf("line %d = %q", i, loud[i].Message)
		}
	}
	if loud[100].Message != "END RequestId: a" {
		t.Fatalf("line 100 = %q, want the END line kept through the flood", loud[100].Message)
	}
	marker := loud[101]
	n, ok := MarkerCount(marker.Message)
	if !ok || n != 900 || marker.Stream != platform || marker.InvocationID != "a" || marker.Instance != "i1" {
		t.Fatalf("marker = %+v, want 900 dropped lines of invocation a on i1", marker)
	}
	if marker.Message != Marker(900) || Marker(900) != "sluice: dropped 900 lines (the function printed faster than its logs can be shipped)" {
		t.Fatalf("marker message = %q", marker.Message)
	}
	if loud[102].Message != "after" {
		t.Fatalf("last line = %q, want the line printed after the marker", loud[102].Message)
	}
}

// Platform lines have an eighth more room than the function's own, and are counted in the
// marker beyond it.
func TestPlatformLinesOutlastAFullQueue(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 80, slog.Default())
	for i := range 100 {
		p.Log(events.LogLine{Function: "f", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	for i := range 12 {
		p.Log(events.LogLine{Function: "f", Stream: platform, Message: fmt.Sprint("REPORT ", i)})
	}
	if p.Dropped() != 20+2 {
		t.Fatalf("dropped %d, want the 20 lines past 80 and the 2 platform lines past 90", p.Dropped())
	}
	run(t, p)()
	got := linesN(t, bus.JS, "f", 80+10+1) // the marker last
	if n, _ := MarkerCount(got[90].Message); n != 22 {
		t.Fatalf("last line %q, want a marker of 22", got[90].Message)
	}
}

// A meter record is stored once whatever number of times it is published, and Meter waits for
// a bus that does not store it rather than dropping it.
func TestMeterIsStoredOnceAndWaitsForTheBus(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 10, slog.Default())
	var seen []string
	p.OnMeter(func(m events.Meter) { seen = append(seen, m.InvocationID) })
	ctx := context.Background()
	m := events.Meter{InvocationID: "a", Function: "f", Attempt: 1, BilledMs: 3, MemoryMB: 128}
	for range 3 { // a redelivered event's attempt publishes its record again
		if err := p.Meter(ctx, m, events.MeterMsgID("a", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := meters(t, bus.JS, "f"); got != 1 {
		t.Fatalf("%d records stored, want 1", got)
	}
	if err := p.Meter(ctx, m, events.MeterMsgID("a", 1, 1)); err != nil { // a redriven event's
		t.Fatal(err)
	}
	if got := meters(t, bus.JS, "f"); got != 2 {
		t.Fatalf("%d records stored, want 2", got)
	}

	if err := bus.JS.DeleteStream(ctx, events.StreamMeters); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- p.Meter(ctx, events.Meter{InvocationID: "b", Function: "f"}, events.MeterMsgID("b", 0, 1))
	}()
	select {
	case err := <-done:
		t.Fatalf("Meter returned %v without a stream to store the record", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := events.Ensure(ctx, bus.JS, events.BusOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Meter still waiting once the stream is back")
	}
	if got := meters(t, bus.JS, "f"); got != 1 {
		t.Fatalf("%d records stored in the new stream, want 1", got)
	}

	if err := bus.JS.DeleteStream(ctx, events.StreamMeters); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := p.Meter(cctx, events.Meter{InvocationID: "c", Function: "f"}, events.MeterMsgID("c", 0, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Meter with its context over = %v, want the context's error", err)
	}
	if fmt.Sprint(seen) != "[a a a a b c]" {
		t.Fatalf("observers saw %v", seen)
	}
}
