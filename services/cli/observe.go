package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"sluice.dev/services/billing"
	"sluice.dev/services/node"
)

// observeFlags holds the price flags until observeOptions lays them over the environment's.
type observeFlags struct {
	perMillion    float64
	perGBSecond   float64
	freeRequests  int64
	freeGBSeconds float64
}

// addObserveFlags binds the retention flags, and --metrics for serve, to the node's o, and adds
// the price flags, held in f.
func addObserveFlags(cmd *cobra.Command, o *node.Observe, f *observeFlags, serve bool) {
	fs := cmd.Flags()
	if serve {
		fs.StringVar(&o.Metrics, "metrics", "", "serve Prometheus /metrics on this address, e.g. 127.0.0.1:9090 (no token: keep it on loopback or a private network; default off; the gateway also serves /metrics on --listen with the token)")
	}
	fs.DurationVar(&o.LogsMaxAge, "logs-max-age", 0, "keep log lines this long (default: what the bus has, 168h on a new bus)")
	fs.Int64Var(&o.LogsMaxBytes, "logs-max-bytes", 0, "keep at most this many bytes of log lines, dropping the oldest (default: what the bus has, 1 GiB on a new bus)")
	fs.DurationVar(&o.MetersMaxAge, "meters-max-age", 0, "keep meter records (metrics and billing) this long (default: what the bus has, 2160h on a new bus)")
	fs.Int64Var(&o.MetersMaxBytes, "meters-max-bytes", 0, "keep at most this many bytes of meter records (default: what the bus has, 10 GiB on a new bus)")
	fs.Float64Var(&f.perMillion, "price-per-million-requests", billing.DefaultPerMillionRequests, "USD per million requests in bills (also $"+billing.EnvPerMillionRequests+")")
	fs.Float64Var(&f.perGBSecond, "price-per-gb-second", billing.DefaultPerGBSecond, "USD per GB-second in bills (also $"+billing.EnvPerGBSecond+")")
	fs.Int64Var(&f.freeRequests, "free-requests", 0, "requests free of charge in each bill (also $"+billing.EnvFreeRequests+")")
	fs.Float64Var(&f.freeGBSeconds, "free-gb-seconds", 0, "GB-seconds free of charge in each bill (also $"+billing.EnvFreeGBSeconds+")")
}

// observeOptions checks the retention flags in o and sets o.Prices: the environment's prices,
// overridden by the flags given.
func (a *app) observeOptions(cmd *cobra.Command, o *node.Observe, f *observeFlags) error {
	if o.LogsMaxAge < 0 || o.MetersMaxAge < 0 || o.LogsMaxBytes < 0 || o.MetersMaxBytes < 0 {
		return usagef("--logs-max-age, --logs-max-bytes, --meters-max-age and --meters-max-bytes take positive values (0: keep what the bus has)")
	}
	p, err := billing.FromEnv(a.getenv)
	if err != nil {
		return usageError{err}
	}
	fs := cmd.Flags()
	if fs.Changed("price-per-million-requests") {
		p.PerMillionRequests = f.perMillion
	}
	if fs.Changed("price-per-gb-second") {
		p.PerGBSecond = f.perGBSecond
	}
	if fs.Changed("free-requests") {
		p.FreeRequests = f.freeRequests
	}
	if fs.Changed("free-gb-seconds") {
		p.FreeGBSeconds = f.freeGBSeconds
	}
	if err := p.Validate(); err != nil {
		if errors.Is(err, billing.ErrBadPrice) {
			return usageError{err}
		}
		return err
	}
	o.Prices = &p
	return nil
}
