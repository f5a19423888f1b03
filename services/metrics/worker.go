package metrics

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"sluice.dev/events"
)

// WorkerCollector reports one worker's own instances and memory from its latest heartbeat in
// sluice_workers, read at every scrape.
type WorkerCollector struct {
	kv       jetstream.KeyValue
	id       string
	log      *slog.Logger
	running  *prometheus.Desc
	busy     *prometheus.Desc
	memUsed  *prometheus.Desc
	memTotal *prometheus.Desc
}

// NewWorkerCollector makes the collector of the worker with the given id over the
// sluice_workers bucket.
func NewWorkerCollector(kv jetstream.KeyValue, id string, logger *slog.Logger) *WorkerCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fn := []string{"function"}
	return &WorkerCollector{
		kv: kv, id: id, log: logger,
		running:  prometheus.NewDesc("sluice_worker_instances", "Instances of the function this worker runs.", fn, nil),
		busy:     prometheus.NewDesc("sluice_worker_busy_instances", "Instances of the function on this worker handling an invocation.", fn, nil),
		memUsed:  prometheus.NewDesc("sluice_worker_memory_used_megabytes", "Sum of the memory settings of this worker's instances.", nil, nil),
		memTotal: prometheus.NewDesc("sluice_worker_memory_budget_megabytes", "Memory this worker may give its instances in all.", nil, nil),
	}
}

// Describe sends the gauges' descriptions.
func (c *WorkerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.running
	ch <- c.busy
	ch <- c.memUsed
	ch <- c.memTotal
}

// Collect sends the gauges of the worker's latest heartbeat; none before its first one.
func (c *WorkerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scaleReadTimeout)
	defer cancel()
	b, err := events.ReadWorkerBeat(ctx, c.kv, c.id)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			c.log.Warn("metrics: worker heartbeat", "worker", c.id, "err", err)
		}
		return
	}
	for fn, n := range b.Instances {
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(n), fn)
		ch <- prometheus.MustNewConstMetric(c.busy, prometheus.GaugeValue, float64(b.Busy[fn]), fn)
	}
	ch <- prometheus.MustNewConstMetric(c.memUsed, prometheus.GaugeValue, float64(b.MemoryUsedMB))
	ch <- prometheus.MustNewConstMetric(c.memTotal, prometheus.GaugeValue, float64(b.MemoryBudgetMB))
}
