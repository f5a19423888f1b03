package node

import (
	"time"

	"sluice.dev/events"
	"sluice.dev/services/billing"
)

// Observe configures what a process keeps and shows about invocations.
type Observe struct {
	// Metrics is the address of a separate /metrics listener for `serve` roles (no token; keep it
	// on loopback or a private network); "" serves none. Up and the gateway serve /metrics on
	// their HTTP listener, behind the API token, either way.
	Metrics string
	// Retention of SLUICE_LOGS and SLUICE_METERS; zero keeps what the bus has (default on a new bus).
	LogsMaxAge     time.Duration
	LogsMaxBytes   int64
	MetersMaxAge   time.Duration
	MetersMaxBytes int64
	// Prices of GET /v1/billing; nil: billing.DefaultPrices().
	Prices *billing.Prices
}

// busOptions adds the retention settings to b.
func (o Observe) busOptions(b events.BusOptions) events.BusOptions {
	b.LogsMaxAge, b.LogsMaxBytes = o.LogsMaxAge, o.LogsMaxBytes
	b.MetersMaxAge, b.MetersMaxBytes = o.MetersMaxAge, o.MetersMaxBytes
	return b
}

func (o Observe) prices() billing.Prices {
	if o.Prices == nil {
		return billing.DefaultPrices()
	}
	return *o.Prices
}
