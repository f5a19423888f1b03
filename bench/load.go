package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sample is the measurement of one load: latencies of the requests that succeeded, the failures,
// and the wall time.
type sample struct {
	lat      []time.Duration
	errs     int
	firstErr error
	elapsed  time.Duration
}

func (r sample) ok() bool { return len(r.lat) > 0 }

// quantile returns the q-quantile (0..1) of the latencies.
func (r sample) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[i]
}

// perSecond is the throughput of the successful requests.
func (r sample) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.lat)) / r.elapsed.Seconds()
}

// warmUp runs do n times, one at a time, and discards the results (cold starts, connection
// set-up, first-use allocations).
func warmUp(ctx context.Context, n int, do func(context.Context) error) {
	for range n {
		if ctx.Err() != nil {
			return
		}
		_ = do(ctx)
	}
}

// load runs do n times from conc goroutines, stopping early at the time cap, and returns the
// latencies. All goroutines end before it returns.
func load(ctx context.Context, n, conc int, limit time.Duration, do func(context.Context) error) sample {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var (
		next atomic.Int64
		mu   sync.Mutex
		all  sample
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			var errs int
			var first error
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				t0 := time.Now()
				if err := do(ctx); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all.lat = append(all.lat, mine...)
			all.errs += errs
			if all.firstErr == nil {
				all.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return all
}
