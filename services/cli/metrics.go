package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

// sinceFlag parses a --since value: a duration such as 30m, 2h or 7d; "" is the server's default.
func sinceFlag(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := wire.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usagef("--since %q: use a positive duration like 30m, 2h or 7d", s)
	}
	return d, nil
}

func (a *app) metricsCmd() *cobra.Command {
	var output, since string
	var step time.Duration
	cmd := &cobra.Command{
		Use:   "metrics NAME [--since DUR] [-o json]",
		Short: "Summarise a function's invocations: rate, latency percentiles, errors, cold starts",
		Long: `Metrics reads the function's meter records of the period (default the last 15 minutes)
and prints the invocation rate, duration p50/p95/p99, errors (every outcome other than ok),
cold starts, the count of each outcome, GB-seconds and the scaler's current decision.
-o json prints the API's answer, with a time series in buckets of --step.`,
		Example: `  sluice metrics hello
  sluice metrics hello --since 2h
  sluice metrics hello --since 1h --step 1m -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := sinceFlag(since)
			if err != nil {
				return err
			}
			if step < 0 {
				return usagef("--step %s: use a positive duration", step)
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (wire.MetricsView, error) {
				return c.Metrics(ctx, args[0], d, step)
			}, a.printMetrics)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "period to summarise, e.g. 30m, 2h or 7d (default 15m)")
	cmd.Flags().DurationVar(&step, "step", 0, "bucket width of the JSON series (default: at most 120 buckets)")
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) printMetrics(v wire.MetricsView) error {
	s := v.Summary
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, k+":\t"+format+"\n", args...) }
	row("function", "%s", v.Function)
	row("period", "%s to %s (%s)", v.Since.Local().Format(timeLayout), v.Until.Local().Format(timeLayout), v.Until.Sub(v.Since).Round(time.Second))
	row("invocations", "%d (%.3f/s)", s.Invocations, s.RatePerSec)
	row("duration", "p50 %.2f ms, p95 %.2f ms, p99 %.2f ms", s.P50Ms, s.P95Ms, s.P99Ms)
	errRate := 0.0
	if s.Invocations > 0 {
		errRate = 100 * float64(s.Errors) / float64(s.Invocations)
	}
	row("errors", "%d (%.1f%%), of which %d timeouts, %d throttled", s.Errors, errRate, s.Timeouts, s.Throttled)
	row("cold starts", "%d", s.ColdStarts)
	for i, o := range slices.Sorted(maps.Keys(s.Outcomes)) {
		label := ""
		if i == 0 {
			label = "outcomes:"
		}
		fmt.Fprintf(tw, "%s\t%s %d\n", label, o, s.Outcomes[o])
	}
	row("GB-seconds", "%.6f", s.GBSeconds)
	row("scale now", "lag %d, desired %d, running %d", v.Scale.Lag, v.Scale.Desired, v.Scale.Running)
	return tw.Flush()
}
