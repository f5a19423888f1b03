package meters

import (
	"fmt"
	"math"
	"slices"
	"time"

	"sluice.dev/events"
)

// MaxBuckets is the most buckets a series has.
const MaxBuckets = 120

// steps are the bucket widths DefaultStep chooses from.
var steps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// DefaultStep is the smallest round bucket width that covers a period with at most MaxBuckets
// buckets (15 minutes: 10 s).
func DefaultStep(period time.Duration) time.Duration {
	for _, s := range steps {
		if buckets(period, s) <= MaxBuckets {
			return s
		}
	}
	s := time.Duration(math.Ceil(float64(period)/float64(MaxBuckets-1)/float64(24*time.Hour))) * 24 * time.Hour
	return s
}

// CheckStep refuses a bucket width that is not positive or makes more than MaxBuckets buckets.
func CheckStep(period, step time.Duration) error {
	if step <= 0 {
		return fmt.Errorf("step %s: use a positive duration like 10s", step)
	}
	if n := buckets(period, step); n > MaxBuckets {
		return fmt.Errorf("step %s makes %d buckets over %s; at most %d: use %s or more", step, n, period, MaxBuckets, DefaultStep(period))
	}
	return nil
}

// buckets counts the step-aligned buckets that cover a period of the given length wherever it
// starts: one more than fit exactly, for the partial buckets at both ends.
func buckets(period, step time.Duration) int {
	return int((period+step-1)/step) + 1
}

// Summary is the whole period's view of a function's invocations.
type Summary struct {
	Invocations int            `json:"invocations"`
	Errors      int            `json:"errors"` // every outcome other than ok
	Timeouts    int            `json:"timeouts"`
	Throttled   int            `json:"throttled"`
	ColdStarts  int            `json:"coldStarts"`
	RatePerSec  float64        `json:"ratePerSec"`
	P50Ms       float64        `json:"p50Ms"`
	P95Ms       float64        `json:"p95Ms"`
	P99Ms       float64        `json:"p99Ms"`
	Outcomes    map[string]int `json:"outcomes"`
	GBSeconds   float64        `json:"gbSeconds"`
}

// Bucket is one step of a series, starting at T.
type Bucket struct {
	T           time.Time `json:"t"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
	ColdStarts  int       `json:"coldStarts"`
	P50Ms       float64   `json:"p50Ms"`
	P99Ms       float64   `json:"p99Ms"`
	Concurrency float64   `json:"concurrency"` // average invocations running at once
	Lag         int       `json:"lag"`         // events waiting or running at the bucket's end, by the scaler's decisions
	Running     int       `json:"running"`     // instances running at the bucket's end, by the scaler's decisions
}

// ScalePoint is one recorded scale decision: from At on, Lag and Running held.
type ScalePoint struct {
	At      time.Time
	Lag     int
	Running int
}

// ApplyScale sets each bucket's Lag and Running to the last decision made before the bucket
// ended; buckets before the first known decision keep zeros. points may come in any order.
func ApplyScale(series []Bucket, step time.Duration, points []ScalePoint) {
	slices.SortFunc(points, func(a, b ScalePoint) int { return a.At.Compare(b.At) })
	j := -1
	for i := range series {
		end := series[i].T.Add(step)
		for j+1 < len(points) && points[j+1].At.Before(end) {
			j++
		}
		if j >= 0 {
			series[i].Lag, series[i].Running = points[j].Lag, points[j].Running
		}
	}
}

// Aggregator summarises meter records one at a time, keeping only each record's duration, so
// a long period does not hold its records in memory. Make one with NewAggregator.
type Aggregator struct {
	since, until, first time.Time
	step                time.Duration
	sum                 Summary
	series              []Bucket
	durs                [][]float64 // durations by bucket, for the percentiles
	mbms                int64
}

// NewAggregator makes an aggregator of the records whose start lies in [since, until), in
// step-aligned buckets of width step.
func NewAggregator(since, until time.Time, step time.Duration) *Aggregator {
	first := since.Truncate(step)
	n := max(int((until.Sub(first)+step-1)/step), 0)
	a := &Aggregator{since: since, until: until, first: first, step: step,
		sum: Summary{Outcomes: map[string]int{}}, series: make([]Bucket, n), durs: make([][]float64, n)}
	for i := range a.series {
		a.series[i].T = first.Add(time.Duration(i) * step).UTC()
	}
	return a
}

// Add counts one record; records that started outside the period are ignored. Concurrency
// spreads the record's run over the buckets it overlaps.
func (a *Aggregator) Add(m events.Meter) {
	if m.Start.Before(a.since) || !m.Start.Before(a.until) {
		return
	}
	i := int(m.Start.Sub(a.first) / a.step)
	if i < 0 || i >= len(a.series) {
		return
	}
	bad := m.Outcome != events.OutcomeOK
	a.sum.Invocations++
	a.sum.Outcomes[string(m.Outcome)]++
	b := &a.series[i]
	b.Invocations++
	if bad {
		a.sum.Errors++
		b.Errors++
	}
	switch m.Outcome {
	case events.OutcomeTimeout:
		a.sum.Timeouts++
	case events.OutcomeThrottled:
		a.sum.Throttled++
	}
	if m.Cold {
		a.sum.ColdStarts++
		b.ColdStarts++
	}
	a.mbms += m.BilledMs * int64(m.MemoryMB)
	a.durs[i] = append(a.durs[i], m.DurationMs)
	spread(a.series, a.first, a.step, m.Start, m.Start.Add(time.Duration(m.DurationMs*float64(time.Millisecond))))
}

// Result returns the summary and the series. gbSeconds is billed ms × memory MB summed as
// integers, converted once.
func (a *Aggregator) Result() (Summary, []Bucket) {
	var all []float64
	for i := range a.series {
		a.series[i].P50Ms, a.series[i].P99Ms = percentile(a.durs[i], 50), percentile(a.durs[i], 99)
		all = append(all, a.durs[i]...)
	}
	sum := a.sum
	sum.P50Ms, sum.P95Ms, sum.P99Ms = percentile(all, 50), percentile(all, 95), percentile(all, 99)
	if secs := a.until.Sub(a.since).Seconds(); secs > 0 {
		sum.RatePerSec = float64(sum.Invocations) / secs
	}
	sum.GBSeconds = float64(a.mbms) / (1024 * 1000)
	return sum, a.series
}

// Aggregate is an Aggregator fed with ms.
func Aggregate(ms []events.Meter, since, until time.Time, step time.Duration) (Summary, []Bucket) {
	a := NewAggregator(since, until, step)
	for _, m := range ms {
		a.Add(m)
	}
	return a.Result()
}

// spread adds the run [from, to) to the concurrency of each bucket it overlaps, as the share of
// the bucket's width it covers.
func spread(series []Bucket, first time.Time, step time.Duration, from, to time.Time) {
	for i := max(int(from.Sub(first)/step), 0); i < len(series); i++ {
		bs := first.Add(time.Duration(i) * step)
		be := bs.Add(step)
		if !bs.Before(to) {
			return
		}
		lo, hi := from, to
		if lo.Before(bs) {
			lo = bs
		}
		if hi.After(be) {
			hi = be
		}
		if hi.After(lo) {
			series[i].Concurrency += float64(hi.Sub(lo)) / float64(step)
		}
	}
}

// percentile is the nearest-rank p-th percentile of xs (0 for none); xs is sorted in place.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(rank, 1), len(xs))-1]
}
