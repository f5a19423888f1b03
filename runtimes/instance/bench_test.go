package instance

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWarmInvoke measures one invocation of a no-op handler on a warm instance: the
// Runtime API round trip plus the bootstrap's own loop.
func BenchmarkWarmInvoke(b *testing.B) {
	cat := newCatalog(b)
	for _, fx := range suite {
		b.Run(fx.runtime, func(b *testing.B) {
			i := start(b, cat, config(b, fx, "noop"))
			payload := []byte(`{"hello":"world"}`)
			ids := make([]string, 1024)
			for n := range ids {
				ids[n] = "bench-" + strconv.Itoa(n)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				resp, err := i.Invoke(ctx, Request{ID: ids[n%len(ids)], Deadline: time.Now().Add(time.Minute), Payload: payload})
				if err != nil || resp.Error != nil {
					b.Fatalf("invoke: %v %+v", err, resp.Error)
				}
				n++
			}
		})
	}
}

// BenchmarkColdStart measures Start (process launch to the bootstrap's first /next), one
// invocation and Close, with no pre-started interpreter.
func BenchmarkColdStart(b *testing.B) {
	cat := newCatalog(b)
	for _, fx := range suite {
		b.Run(fx.runtime, func(b *testing.B) {
			cfg := config(b, fx, "noop")
			ctx := context.Background()
			var init time.Duration
			for b.Loop() {
				i, err := Start(ctx, cat, cfg)
				if err != nil {
					b.Fatal(err)
				}
				init += i.InitDuration()
				if _, err := i.Invoke(ctx, Request{ID: "cold", Payload: []byte(`{}`)}); err != nil {
					b.Fatal(err)
				}
				_ = i.Close()
			}
			b.ReportMetric(float64(init.Microseconds())/float64(b.N), "init-µs/op")
		})
	}
}
