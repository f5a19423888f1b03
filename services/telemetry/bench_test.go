package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

func waitStored(b *testing.B, js jetstream.JetStream, stream, subject string, n int) {
	b.Helper()
	testkit.EventuallyEvery(b, time.Minute, time.Millisecond, func() error {
		if got := bustest.Stored(b, js, stream, subject); got < n {
			return fmt.Errorf("%d of %d records stored", got, n)
		}
		return nil
	})
}

// waitLine waits until the last record of the logs of f ends with the line message.
func waitLine(b *testing.B, js jetstream.JetStream, message string) {
	b.Helper()
	s, err := js.Stream(context.Background(), events.StreamLogs)
	if err != nil {
		b.Fatal(err)
	}
	testkit.EventuallyEvery(b, time.Minute, time.Millisecond, func() error {
		m, err := s.GetLastMsgForSubject(context.Background(), events.LogsSubject("f"))
		if err != nil {
			return err
		}
		batch, err := events.DecodeLogBatch(m.Data)
		if err != nil {
			return err
		}
		if last := batch.Lines[len(batch.Lines)-1].Message; last != message {
			return fmt.Errorf("last line stored %q, want %q", last, message)
		}
		return nil
	})
}

// runningPublisher starts a bus and a publisher on it, running until the benchmark ends.
func runningPublisher(b *testing.B) (*bustest.Bus, *Publisher) {
	bus := bustest.Start(b)
	p := NewPublisher(bus.Conn, 65536, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return bus, p
}

// BenchmarkLogStored is the time per log line from Log until the stream stored it (in a batch
// record), in chunks that fit the queue (nothing is dropped).
func BenchmarkLogStored(b *testing.B) {
	bus, p := runningPublisher(b)
	const chunk = 5000
	l := events.LogLine{Time: time.Now(), Function: "f", Version: 3, Instance: "w-1", InvocationID: "0123456789abcdef", Stream: "stdout"}
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(chunk, b.N-sent)
		for i := range n {
			l.Message = "line number " + strconv.Itoa(sent+i) + " of the benchmark's output"
			p.Log(l)
		}
		sent += n
		waitLine(b, bus.JS, l.Message)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(bustest.Stored(b, bus.JS, events.StreamLogs, events.LogsSubject("f"))), "lines/record")
	if p.Dropped() != 0 {
		b.Fatalf("dropped %d", p.Dropped())
	}
}

// BenchmarkLogCall is the cost of one Log call on the printing instance's side.
func BenchmarkLogCall(b *testing.B) {
	_, p := runningPublisher(b)
	l := events.LogLine{Time: time.Now(), Function: "f", Version: 3, Instance: "w-1", InvocationID: "0123456789abcdef", Stream: "stdout", Message: "a line of the benchmark's output"}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Log(l)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(p.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkMeterStored is the time per meter record until the stream stored it, published by
// 16 invocations at once.
func BenchmarkMeterStored(b *testing.B) {
	bus, p := runningPublisher(b)
	b.SetParallelism(8) // 16 on 2 CPUs
	var seq = make(chan int, 1)
	seq <- 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := <-seq
			seq <- i + 1
			id := fmt.Sprint("inv-", i)
			m := events.Meter{InvocationID: id, Function: "f", Version: 1, Trigger: "http", Start: time.Now(), DurationMs: 1.2, BilledMs: 2, MemoryMB: 128, Outcome: events.OutcomeOK, Attempt: 1}
			if err := p.Meter(context.Background(), m, events.MeterMsgID(id, 0, 1)); err != nil {
				b.Error(err)
			}
		}
	})
	waitStored(b, bus.JS, events.StreamMeters, events.MetersSubject("f"), b.N)
}
