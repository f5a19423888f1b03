package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// duplicatesCollector reports a worker's duplicate deliveries, read at every scrape.
type duplicatesCollector struct {
	desc   *prometheus.Desc
	counts func() map[string]uint64
}

// Duplicates registers sluice_duplicate_deliveries_total{function} on reg, read from counts (a
// worker's Duplicates): deliveries of events whose outcome was recorded already, settled
// without running the function again.
func Duplicates(reg prometheus.Registerer, counts func() map[string]uint64) error {
	c := &duplicatesCollector{
		desc: prometheus.NewDesc("sluice_duplicate_deliveries_total",
			"Deliveries of invocation events whose outcome was recorded already (a lost acknowledgement, an event published twice), settled without running the function again, by function.",
			[]string{"function"}, nil),
		counts: counts,
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

func (c *duplicatesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *duplicatesCollector) Collect(ch chan<- prometheus.Metric) {
	for fn, n := range c.counts() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), fn)
	}
}
