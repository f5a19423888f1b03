package meters

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func TestDefaultStepKeepsBucketsUnder120(t *testing.T) {
	if got := DefaultStep(15 * time.Minute); got != 10*time.Second {
		t.Errorf("15m: step %s, want 10s", got)
	}
	for _, p := range []time.Duration{time.Second, 90 * time.Second, time.Hour, 7 * 24 * time.Hour, 400 * 24 * time.Hour} {
		if err := CheckStep(p, DefaultStep(p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := CheckStep(15*time.Minute, time.Second); err == nil {
		t.Error("1s over 15m: no error")
	}
	if err := CheckStep(time.Minute, 0); err == nil {
		t.Error("step 0: no error")
	}
}

func TestAggregate(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	until := since.Add(30 * time.Second)
	at := func(s float64) time.Time { return since.Add(time.Duration(s * float64(time.Second))) }
	ms := []events.Meter{
		{Start: at(-1), DurationMs: 1, Outcome: events.OutcomeOK}, // before the period
		{Start: at(0), DurationMs: 10000, BilledMs: 10000, MemoryMB: 1024, Outcome: events.OutcomeOK, Cold: true},
		{Start: at(1), DurationMs: 20, BilledMs: 20, MemoryMB: 128, Outcome: events.OutcomeError},
		{Start: at(12), DurationMs: 30, BilledMs: 30, MemoryMB: 128, Outcome: events.OutcomeTimeout},
		{Start: at(29), DurationMs: 40, BilledMs: 40, MemoryMB: 128, Outcome: events.OutcomeThrottled},
		{Start: at(30), DurationMs: 1, Outcome: events.OutcomeOK}, // at until: after the period
	}
	sum, series := Aggregate(ms, since, until, 10*time.Second)
	if sum.Invocations != 4 || sum.Errors != 3 || sum.Timeouts != 1 || sum.Throttled != 1 || sum.ColdStarts != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Outcomes["ok"] != 1 || sum.Outcomes["error"] != 1 || sum.Outcomes["timeout"] != 1 || sum.Outcomes["throttled"] != 1 {
		t.Errorf("outcomes %v", sum.Outcomes)
	}
	if sum.P50Ms != 30 || sum.P95Ms != 10000 || sum.P99Ms != 10000 {
		t.Errorf("p50 %v p95 %v p99 %v", sum.P50Ms, sum.P95Ms, sum.P99Ms)
	}
	if want := float64(10000*1024+(20+30+40)*128) / 1024 / 1000; sum.GBSeconds != want {
		t.Errorf("gbSeconds %v, want %v", sum.GBSeconds, want)
	}
	if sum.RatePerSec != 4.0/30 {
		t.Errorf("rate %v", sum.RatePerSec)
	}
	// Buckets are aligned to 10 s: 00:00:00, :10, :20, :30.
	if len(series) != 4 || !series[0].T.Equal(since.Truncate(10*time.Second)) {
		t.Fatalf("series %+v", series)
	}
	if series[0].Invocations != 2 || series[0].Errors != 1 || series[0].ColdStarts != 1 || series[1].Invocations != 1 || series[3].Invocations != 1 {
		t.Errorf("series counts %+v", series)
	}
	// The 10 s run from :05 to :15 covers half of bucket 0 and half of bucket 1.
	if c := series[0].Concurrency; c < 0.5 || c > 0.5+0.02/10 {
		t.Errorf("bucket 0 concurrency %v, want 0.502", c)
	}
	if c := series[1].Concurrency; c != 0.5+0.003 {
		t.Errorf("bucket 1 concurrency %v, want 0.503", c)
	}
	if series[1].P50Ms != 30 || series[0].P99Ms != 10000 {
		t.Errorf("bucket percentiles %+v", series[:2])
	}
}

func TestReadFromSinceToLastStored(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	put := func(fn, id string) {
		b, _ := json.Marshal(events.Meter{Function: fn, InvocationID: id})
		if _, err := bus.JS.Publish(ctx, events.MetersSubject(fn), b); err != nil {
			t.Fatal(err)
		}
	}
	read := func(fn string, since time.Time) []string {
		var ids []string
		if err := Read(ctx, bus.JS, fn, since, func(m events.Meter) error { ids = append(ids, m.InvocationID); return nil }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if ids := read("f", time.Time{}); len(ids) != 0 {
		t.Fatalf("empty stream: %v", ids)
	}
	put("f", "1")
	put("g", "2")
	mid := time.Now() // the server stamps later records after it (same clock)
	put("f", "3")
	if ids := read("f", time.Time{}); len(ids) != 2 || ids[0] != "1" || ids[1] != "3" {
		t.Errorf("f from the start: %v", ids)
	}
	if ids := read("f", mid); len(ids) != 1 || ids[0] != "3" {
		t.Errorf("f since mid: %v", ids)
	}
	if ids := read("", time.Time{}); len(ids) != 3 {
		t.Errorf("all: %v", ids)
	}
	if ids := read("f", time.Now().Add(time.Hour)); len(ids) != 0 {
		t.Errorf("future: %v", ids)
	}
}

func TestApplyScaleHoldsEachDecisionUntilTheNext(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	series := make([]Bucket, 5)
	for i := range series {
		series[i].T = t0.Add(time.Duration(i) * 10 * time.Second)
	}
	ApplyScale(series, 10*time.Second, []ScalePoint{
		{At: t0.Add(35 * time.Second), Lag: 0, Running: 1},
		{At: t0.Add(12 * time.Second), Lag: 7, Running: 2},
		{At: t0.Add(15 * time.Second), Lag: 9, Running: 3},
	})
	var got []string
	for _, b := range series {
		got = append(got, fmt.Sprintf("%d/%d", b.Lag, b.Running))
	}
	if fmt.Sprint(got) != "[0/0 9/3 9/3 0/1 0/1]" {
		t.Errorf("lag/running per bucket %v", got)
	}
}
