// Package metrics exposes what a sluice process sees in the Prometheus text format.
//
// Every process builds its own prometheus.Registry (never the global default one) and hands it
// to New; the node serves it on /metrics. Invocation metrics are fed from the meter records a
// worker produces (Metrics.Meter, called once per finished attempt), so a process counts only
// the invocations its own worker ran and Prometheus sums the processes. The scale gauges (lag,
// desired and running instances per function) are read from the scaler's decisions in
// sluice_scale at scrape time, so any process that registers ScaleCollector shows the whole
// bus's state.
//
// Metric names:
//
//	sluice_invocations_total{function,outcome}        counter
//	sluice_invocation_duration_seconds{function}      histogram
//	sluice_cold_starts_total{function}                counter
//	sluice_billed_gb_seconds_total{function}          counter (billed ms × memory MB / 1024 / 1000)
//	sluice_function_lag{function}                     gauge
//	sluice_function_desired_instances{function}       gauge
//	sluice_function_instances{function}               gauge (running, summed over workers)
//	sluice_worker_instances{function}                 gauge (this worker's, from its heartbeat)
//	sluice_worker_busy_instances{function}            gauge
//	sluice_worker_memory_used_megabytes               gauge
//	sluice_worker_memory_budget_megabytes             gauge
//	sluice_telemetry_dropped_total                    counter (log lines dropped by a function's full log queue)
//	sluice_duplicate_deliveries_total{function}       counter (events settled without a run, their outcome recorded already)
//
// Metrics is safe for concurrent use.
package metrics
