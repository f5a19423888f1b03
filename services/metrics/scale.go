package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"sluice.dev/events"
)

// scaleReadTimeout bounds the read of sluice_scale during one scrape.
const scaleReadTimeout = 3 * time.Second

// ScaleCollector reports each function's lag, desired and running instances from the scaler's
// latest decisions, read from the sluice_scale bucket at every scrape.
type ScaleCollector struct {
	kv      jetstream.KeyValue
	log     *slog.Logger
	lag     *prometheus.Desc
	desired *prometheus.Desc
	running *prometheus.Desc
}

// NewScaleCollector makes the collector over the sluice_scale bucket; register it on a registry.
func NewScaleCollector(kv jetstream.KeyValue, logger *slog.Logger) *ScaleCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fn := []string{"function"}
	return &ScaleCollector{
		kv: kv, log: logger,
		lag:     prometheus.NewDesc("sluice_function_lag", "Events waiting or running on the function's consumer, at the scaler's last decision.", fn, nil),
		desired: prometheus.NewDesc("sluice_function_desired_instances", "Instances the scaler wants for the function.", fn, nil),
		running: prometheus.NewDesc("sluice_function_instances", "Instances of the function the live workers run, summed.", fn, nil),
	}
}

// Describe sends the gauges' descriptions.
func (c *ScaleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.desired
	ch <- c.running
}

// Collect reads every decision and sends its gauges. A bucket that cannot be read yields no
// gauges (and a log line), not a failed scrape.
func (c *ScaleCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scaleReadTimeout)
	defer cancel()
	for _, d := range decisions(ctx, c.kv, c.log) {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(d.Lag), d.Function)
		ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(d.Desired), d.Function)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(d.Running), d.Function)
	}
}

// decisions reads the scaler's current decision for every function from sluice_scale. Records
// that cannot be read are logged and skipped.
func decisions(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) []events.ScaleDecision {
	ds, err := events.ScaleDecisions(ctx, kv)
	if err != nil {
		log.Warn("metrics: read scale decisions", "err", err)
	}
	return ds
}
