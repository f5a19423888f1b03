package meters

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// BenchmarkReadAndAggregate reads 10 000 meter records of a function back from the stream and
// aggregates them over 15 minutes, as GET /v1/functions/{name}/metrics does.
func BenchmarkReadAndAggregate(b *testing.B) {
	bus := bustest.Start(b)
	ctx := context.Background()
	const n = 10000
	start := time.Now().Add(-10 * time.Minute)
	for i := range n {
		rec, _ := json.Marshal(events.Meter{Function: "f", InvocationID: "x", Start: start.Add(time.Duration(i) * 50 * time.Millisecond),
			DurationMs: float64(i%100) / 10, BilledMs: int64(i%100/10 + 1), MemoryMB: 128, Outcome: events.OutcomeOK})
		if _, err := bus.JS.PublishAsync(events.MetersSubject("f"), rec); err != nil {
			b.Fatal(err)
		}
	}
	<-bus.JS.PublishAsyncComplete()
	since := time.Now().Add(-15 * time.Minute)
	b.ResetTimer()
	for range b.N {
		a := NewAggregator(since, time.Now(), DefaultStep(15*time.Minute))
		if err := Read(ctx, bus.JS, "f", since, func(m events.Meter) error { a.Add(m); return nil }); err != nil {
			b.Fatal(err)
		}
		if s, _ := a.Result(); s.Invocations != n {
			b.Fatalf("aggregated %d records", s.Invocations)
		}
	}
	b.ReportMetric(float64(n), "records/op")
}
