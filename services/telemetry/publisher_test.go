package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// lines reads every log line of fn on the bus, out of its batch records.
func lines(t *testing.T, js jetstream.JetStream, fn string) []events.LogLine {
	t.Helper()
	n := bustest.Stored(t, js, events.StreamLogs, events.LogsSubject(fn))
	c, err := js.OrderedConsumer(context.Background(), events.StreamLogs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.LogsSubject(fn)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.LogLine
	for i := range n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("record %d of %d: %v", i, n, err)
		}
		b, err := events.DecodeLogBatch(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if b.Function != fn || len(b.Lines) == 0 || len(m.Data()) > batchBytes && len(b.Lines) > 1 {
			t.Fatalf("record %d of %s: function %q, %d lines in %d bytes", i, fn, b.Function, len(b.Lines), len(m.Data()))
		}
		out = append(out, b.Lines...)
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
	if got := bustest.Stored(t, bus.JS, events.StreamMeters, events.MetersSubject("f")); got != 1 {
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
	p.Log(events.LogLine{Function: "loud", InvocationID: "a", Stream: platform, Message: "WARNING RequestId: a"})
	for i := range 10 {
		p.Log(events.LogLine{Function: "quiet", InvocationID: "b", Stream: "stdout", Message: fmt.Sprint(i)})
	}
	if p.Dropped() != 900 {
		t.Fatalf("dropped %d, want 900", p.Dropped())
	}
	stop := run(t, p)
	testkit.Eventually(t, 5*time.Second, func() error {
		if got := len(lines(t, bus.JS, "loud")); got != 102 {
			return fmt.Errorf("%d lines of loud, want 100, WARNING and the marker", got)
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
	if loud[100].Message != "WARNING RequestId: a" {
		t.Fatalf("line 100 = %q, want the platform line kept through the flood", loud[100].Message)
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
		p.Log(events.LogLine{Function: "f", Stream: platform, Message: fmt.Sprint("WARNING ", i)})
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
	if got := bustest.Stored(t, bus.JS, events.StreamMeters, events.MetersSubject("f")); got != 1 {
		t.Fatalf("%d records stored, want 1", got)
	}
	if err := p.Meter(ctx, m, events.MeterMsgID("a", 1, 1)); err != nil { // a redriven event's
		t.Fatal(err)
	}
	if got := bustest.Stored(t, bus.JS, events.StreamMeters, events.MetersSubject("f")); got != 2 {
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
	if got := bustest.Stored(t, bus.JS, events.StreamMeters, events.MetersSubject("f")); got != 1 {
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

// Lines are published in batch records, each of one function: far fewer records than lines,
// every line in its order and with its invocation id, the functions' lines never mixed.
func TestLinesGoOutInBatchRecords(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 10000, slog.Default())
	run(t, p)
	const n = 1000
	for i := range n { // two functions' invocations printing at once
		for _, fn := range []string{"a", "b"} {
			p.Log(events.LogLine{Time: time.Now(), Function: fn, Version: 1, Instance: fn + "-1", InvocationID: fmt.Sprint(fn, i/100),
				Stream: "stdout", Message: fmt.Sprint(fn, " ", i)})
		}
		if i%100 == 99 {
			time.Sleep(20 * time.Millisecond) // past linger: the next lines are a new wake
		}
	}
	for _, fn := range []string{"a", "b"} {
		got := linesN(t, bus.JS, fn, n)
		for i, l := range got {
			if l.Message != fmt.Sprint(fn, " ", i) || l.InvocationID != fmt.Sprint(fn, i/100) || l.Function != fn || l.Instance != fn+"-1" || l.Version != 1 {
				t.Fatalf("%s line %d = %+v", fn, i, l)
			}
		}
		recs := bustest.Stored(t, bus.JS, events.StreamLogs, events.LogsSubject(fn))
		if recs > n/batch+10+5 {
			t.Fatalf("%s: %d lines in %d records", fn, n, recs)
		}
		t.Logf("%s: %d lines in %d records", fn, n, recs)
	}
	// One line alone after idle still goes out within moments.
	p.Log(events.LogLine{Time: time.Now(), Function: "c", InvocationID: "x", Stream: "stdout", Message: "alone"})
	if got := linesN(t, bus.JS, "c", 1); got[0].Message != "alone" {
		t.Fatalf("line = %+v", got[0])
	}
}

// Long lines split a batch into records within batchBytes, and barriers keep acknowledging.
func TestLongLinesSplitRecords(t *testing.T) {
	bus := bustest.Start(t)
	p := NewPublisher(bus.Conn, 10000, slog.Default())
	big := strings.Repeat("y", 60<<10)
	for i := range 60 { // within QueueBytes
		p.Log(events.LogLine{Function: "f", InvocationID: "inv", Stream: "stdout", Message: fmt.Sprint(i, " ", big)})
	}
	run(t, p)()
	got := linesN(t, bus.JS, "f", 60)
	for i, l := range got {
		if !strings.HasPrefix(l.Message, fmt.Sprint(i, " ")) {
			t.Fatalf("line %d = %.20q", i, l.Message)
		}
	}
	if recs := bustest.Stored(t, bus.JS, events.StreamLogs, events.LogsSubject("f")); recs < 60*60/256 || recs > 60/2 {
		t.Fatalf("60 lines of 60 KiB in %d records", recs)
	}
	if p.Dropped() != 0 {
		t.Fatalf("dropped %d", p.Dropped())
	}
}
