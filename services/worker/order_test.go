package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// keyed takes 300 ms, or fails at once for an event that says so.
const keyed = `
import time

def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("fails")
    time.sleep(0.3)
    return "ok"
`

// Events with one order key run one at a time in the order they were stored, a failing one
// holding its key through its retry until it is dead-lettered; another key runs beside them.
// Checked from the function's own spans, its meter records.
func TestOrderedEventsRunOneAtATimePerKey(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	f.deploy(t, "keyed", keyed, events.Config{Max: 4, Retries: 1})
	order := []struct{ id, key, data string }{
		{"A1", "A", `{}`}, {"B1", "B", `{}`}, {"A2", "A", `{"fail": true}`},
		{"B2", "B", `{}`}, {"A3", "A", `{}`}, {"B3", "B", `{}`},
	}
	for _, o := range order {
		ev := event.New()
		ev.SetID(o.id)
		ev.SetSource("/test")
		ev.SetType("test.keyed")
		ev.SetExtension(events.ExtOrderKey, o.key)
		if err := ev.SetData(event.ApplicationJSON, []byte(o.data)); err != nil {
			t.Fatal(err)
		}
		m, err := events.NewMsg(events.SubjectOf("keyed", ev), ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.bus.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	type span struct {
		id         string
		start, end time.Time
	}
	spans := map[string][]span{}                              // by key, in start order
	for _, m := range meterRecords(t, f.bus.JS, "keyed", 7) { // six events and A2's retry
		key := m.InvocationID[:1]
		end := m.Start.Add(time.Duration(m.DurationMs * float64(time.Millisecond)))
		spans[key] = append(spans[key], span{m.InvocationID, m.Start, end})
	}
	for key, want := range map[string]string{"A": "A1 A2 A2 A3", "B": "B1 B2 B3"} {
		var ids []string
		for i, s := range spans[key] {
			ids = append(ids, s.id)
			if i > 0 && s.start.Before(spans[key][i-1].end) {
				t.Fatalf("%s started at %s, before %s ended at %s", s.id, s.start, spans[key][i-1].id, spans[key][i-1].end)
			}
		}
		if got := strings.Join(ids, " "); got != want {
			t.Fatalf("key %s ran %s, want %s", key, got, want)
		}
	}
	overlap := false
	for _, a := range spans["A"] {
		for _, b := range spans["B"] {
			overlap = overlap || a.start.Before(b.end) && b.start.Before(a.end)
		}
	}
	if !overlap {
		t.Fatalf("keys A and B never ran side by side: %v", spans)
	}
	if dead := dlqMessage(t, f.bus.JS, "keyed"); dead.Header.Get("ce-id") != "A2" {
		t.Fatalf("dead letter of %q, want A2", dead.Header.Get("ce-id"))
	}
}

// BenchmarkOrderedKey measures one key's events one after another: 30 no-op events of one key
// stored at once, from the first stored to the last run, and the gap between one's end and the
// next one's start (ns/op holds the whole drain).
func BenchmarkOrderedKey(b *testing.B) {
	f := start(b)
	ctx := context.Background()
	f.deploy(b, "hot", "def handler(e, c):\n    return 'ok'\n", events.Config{Max: 4})
	const n = 30
	for i := range b.N {
		began := time.Now()
		for k := range n {
			ev := event.New()
			ev.SetID(fmt.Sprintf("r%d-%d", i, k))
			ev.SetSource("/bench")
			ev.SetType("bench.keyed")
			ev.SetExtension(events.ExtOrderKey, fmt.Sprint("key-", i))
			m, err := events.NewMsg(events.SubjectOf("hot", ev), ev)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.bus.JS.PublishMsg(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		for deadline := time.Now().Add(5 * time.Minute); bustest.Stored(b, f.bus.JS, events.StreamMeters, events.MetersSubject("hot")) < (i+1)*n; {
			if time.Now().After(deadline) {
				b.Fatalf("the key's events did not all run within 5 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
		drain := time.Since(began)
		meters := meterRecords(b, f.bus.JS, "hot", (i+1)*n)
		var gaps []time.Duration
		run := meters[i*n:]
		for j := 1; j < len(run); j++ {
			end := run[j-1].Start.Add(time.Duration(run[j-1].DurationMs * float64(time.Millisecond)))
			gaps = append(gaps, run[j].Start.Sub(end))
		}
		slices.Sort(gaps)
		b.ReportMetric(float64(gaps[len(gaps)/2].Microseconds())/1000, "gap-p50-ms")
		b.ReportMetric(float64(gaps[len(gaps)-1].Microseconds())/1000, "gap-max-ms")
		b.ReportMetric(drain.Seconds(), "s-drain")
	}
}
