package worker_test

import (
	"context"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/gateway"
)

// BenchmarkAsyncEvents sends b.N async events of a Python no-op (max 2) through the gateway and
// waits until every one has its meter record: the async path of one process (gateway, worker,
// embedded bus), for profiles (-cpuprofile, -memprofile) of where an event's CPU and
// allocations go.
func BenchmarkAsyncEvents(b *testing.B) {
	f := start(b)
	ctx := context.Background()
	v := f.deploy(b, "noop", "def handler(e, c):\n    return None\n", events.Config{Max: 2})
	if _, err := f.gw.Sync(ctx, gateway.Call{Version: v, Data: []byte(`{}`)}); err != nil { // instances warm
		b.Fatal(err)
	}
	before := bustest.Stored(b, f.bus.JS, events.StreamMeters, events.MetersSubject("noop"))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := f.gw.Async(ctx, gateway.Call{Version: v, Data: []byte(`{}`)}); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Minute); bustest.Stored(b, f.bus.JS, events.StreamMeters, events.MetersSubject("noop")) < before+b.N; {
		if time.Now().After(deadline) {
			b.Fatal("the events did not all run within 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
