package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"sluice.dev/events"
)

// DurationBuckets are the upper bounds, in seconds, of the invocation duration histogram: from
// a millisecond (a warm no-op) to the longest timeouts.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Metrics holds the invocation metrics of one process.
type Metrics struct {
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	cold        *prometheus.CounterVec
	gbSeconds   *prometheus.CounterVec
}

// New registers the invocation metrics, and the Go runtime and process collectors, on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_invocations_total",
			Help: "Finished invocation attempts, by function and outcome (ok, error, timeout, crash, oom, init, throttled, rejected).",
		}, []string{"function", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_invocation_duration_seconds",
			Help:    "Duration of finished invocation attempts, by function.",
			Buckets: durationBuckets,
		}, []string{"function"}),
		cold: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_cold_starts_total",
			Help: "Invocation attempts that started a new instance, by function.",
		}, []string{"function"}),
		gbSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_billed_gb_seconds_total",
			Help: "Billed duration times memory size, in GB-seconds, by function.",
		}, []string{"function"}),
	}
	for _, c := range []prometheus.Collector{
		m.invocations, m.duration, m.cold, m.gbSeconds,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Meter counts one finished invocation attempt. It never blocks.
func (m *Metrics) Meter(r events.Meter) {
	m.invocations.WithLabelValues(r.Function, string(r.Outcome)).Inc()
	m.duration.WithLabelValues(r.Function).Observe(r.DurationMs / 1000)
	if r.Cold {
		m.cold.WithLabelValues(r.Function).Inc()
	}
	m.gbSeconds.WithLabelValues(r.Function).Add(float64(r.BilledMs) * float64(r.MemoryMB) / (1024 * 1000))
}

// Dropped registers sluice_telemetry_dropped_total, read from count at each scrape.
func Dropped(reg prometheus.Registerer, count func() uint64) error {
	c := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_telemetry_dropped_total",
		Help: "Log lines dropped: past a function's full log queue (counted in a marker line of its logs) or by a failed publish. Meter records are never dropped.",
	}, func() float64 { return float64(count()) })
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}
