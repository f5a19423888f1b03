package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// scrape serves reg as /metrics does and parses the answer with Prometheus's own parser.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	fams, err := ParseText(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := Value(fams, name, labels)
	if !ok {
		t.Fatalf("no %s%v", name, labels)
	}
	return v
}

func TestMeterFeedsCountersAndHistogram(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	var dropped uint64 = 7
	if err := Dropped(reg, func() uint64 { return dropped }); err != nil {
		t.Fatal(err)
	}
	m.Meter(events.Meter{Function: "f", Outcome: events.OutcomeOK, DurationMs: 2, BilledMs: 2, MemoryMB: 1024, Cold: true})
	m.Meter(events.Meter{Function: "f", Outcome: events.OutcomeOK, DurationMs: 3000, BilledMs: 3000, MemoryMB: 1024})
	m.Meter(events.Meter{Function: "f", Outcome: events.OutcomeTimeout, DurationMs: 1, BilledMs: 1, MemoryMB: 512})
	m.Meter(events.Meter{Function: "g", Outcome: events.OutcomeError, DurationMs: 1, BilledMs: 1, MemoryMB: 128})
	fams := scrape(t, reg)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_invocations_total", map[string]string{"function": "f", "outcome": "ok"}, 2},
		{"sluice_invocations_total", map[string]string{"function": "f", "outcome": "timeout"}, 1},
		{"sluice_invocations_total", map[string]string{"function": "g", "outcome": "error"}, 1},
		{"sluice_cold_starts_total", map[string]string{"function": "f"}, 1},
		{"sluice_billed_gb_seconds_total", map[string]string{"function": "f"}, (2*1024 + 3000*1024 + 512) / 1024.0 / 1000},
		{"sluice_invocation_duration_seconds_count", map[string]string{"function": "f"}, 3},
		{"sluice_invocation_duration_seconds_bucket", map[string]string{"function": "f", "le": "0.0025"}, 2},
		{"sluice_invocation_duration_seconds_bucket", map[string]string{"function": "f", "le": "5"}, 3},
		{"sluice_telemetry_dropped_total", nil, 7},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := Value(fams, "sluice_cold_starts_total", map[string]string{"function": "g"}); ok {
		t.Error("g has a cold start series without a cold start")
	}
}

func TestScaleCollectorReadsDecisions(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketScale)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"function": "f", "lag": 12, "desired": 4, "running": 3, "reason": "lag"})
	if _, err := kv.Put(ctx, events.ScaleKey("f"), b); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "other.key", []byte("x")); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewScaleCollector(kv, nil))
	fams := scrape(t, reg)
	f := map[string]string{"function": "f"}
	if l, d, r := value(t, fams, "sluice_function_lag", f), value(t, fams, "sluice_function_desired_instances", f), value(t, fams, "sluice_function_instances", f); l != 12 || d != 4 || r != 3 {
		t.Fatalf("lag %v desired %v running %v; want 12 4 3", l, d, r)
	}
}

func TestWorkerCollectorReadsItsOwnHeartbeat(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketWorkers)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewWorkerCollector(kv, "w1", nil))
	if _, ok := scrape(t, reg)["sluice_worker_instances"]; ok {
		t.Fatal("gauges before the first heartbeat")
	}
	for id, n := range map[string]int{"w1": 3, "w2": 5} {
		b, _ := json.Marshal(events.WorkerBeat{ID: id, MemoryBudgetMB: 2048, MemoryUsedMB: 384, Instances: map[string]int{"f": n}, Busy: map[string]int{"f": 1}})
		if _, err := kv.Put(ctx, id, b); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, reg)
	f := map[string]string{"function": "f"}
	if r, b := value(t, fams, "sluice_worker_instances", f), value(t, fams, "sluice_worker_busy_instances", f); r != 3 || b != 1 {
		t.Errorf("instances %v busy %v; want w1's 3 and 1", r, b)
	}
	if u, m := value(t, fams, "sluice_worker_memory_used_megabytes", nil), value(t, fams, "sluice_worker_memory_budget_megabytes", nil); u != 384 || m != 2048 {
		t.Errorf("memory used %v of %v", u, m)
	}
}
