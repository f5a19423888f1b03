package worker_test

import (
	"fmt"
	"testing"
	"time"

	"sluice.dev/events"
)

// BenchmarkBurstToMax sends a burst of n async events that each sleep d to a function with max m
// shared by two workers, and reports the time from the burst to m instances (slots won, instances
// running or starting) and the drain time of the burst against the ideal n·d/m.
func BenchmarkBurstToMax(b *testing.B) {
	for _, c := range []struct{ n, m int }{{60, 4}, {200, 10}} {
		b.Run(fmt.Sprintf("n=%d,max=%d", c.n, c.m), func(b *testing.B) { burstToMax(b, c.n, c.m) })
	}
}

func burstToMax(b *testing.B, n, m int) {
	const d = 300 * time.Millisecond // the sleeper's run
	for i := range b.N {
		c := startCluster(b)
		w1, w2 := c.join(b, "b1", 0), c.join(b, "b2", 0)
		name := fmt.Sprintf("burst%d", i)
		v, _ := deploySleeper(b, c, name, events.Config{Max: m, IdleTimeout: events.Duration(time.Minute)})
		start := time.Now()
		ids := c.burst(b, v, n)
		var toMax time.Duration
		for toMax == 0 {
			if k, _ := instances(name, w1, w2); k >= m {
				toMax = time.Since(start)
			}
			time.Sleep(time.Millisecond)
		}
		c.succeeded(b, ids, time.Minute)
		drain := time.Since(start)
		ideal := time.Duration(n) * d / time.Duration(m)
		b.ReportMetric(toMax.Seconds()*1000, "ms-to-max")
		b.ReportMetric(drain.Seconds(), "s-drain")
		b.ReportMetric(ideal.Seconds(), "s-ideal")
		b.ReportMetric(drain.Seconds()/ideal.Seconds(), "drain/ideal")
	}
}
