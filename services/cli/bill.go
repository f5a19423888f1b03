package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/services/billing"
	"sluice.dev/services/client"
)

func (a *app) billCmd() *cobra.Command {
	var (
		output, since string
		asCSV         bool
	)
	cmd := &cobra.Command{
		Use:   "bill [--since DUR] [--csv] [-o json]",
		Short: "Print what functions cost over a period: requests and GB-seconds, priced",
		Long: `Bill counts every function's requests (each attempt, retries included) and GB-seconds
(billed duration × memory) from the meter records of the period (default the last 30 days),
and prices them with the node's price table (sluice up --price-per-million-requests,
--price-per-gb-second, --free-requests, --free-gb-seconds). The free tier comes off the total.
--csv prints one line per function and a total line, for spreadsheets.`,
		Example: `  sluice bill
  sluice bill --since 24h
  sluice bill --since 7d --csv > bill.csv`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := sinceFlag(since)
			if err != nil {
				return err
			}
			if asCSV && output != "text" {
				return usagef("--csv and -o %s: choose one", output)
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (billing.Bill, error) {
				return c.Bill(ctx, d)
			}, func(b billing.Bill) error {
				if asCSV {
					return a.printBillCSV(b)
				}
				return a.printBill(b)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "period to bill, e.g. 24h or 30d (default 30d)")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) printBill(b billing.Bill) error {
	fmt.Fprintf(a.stdout, "%s to %s, %s; %s per million requests, %s per GB-second\n\n",
		b.Since.Local().Format(timeLayout), b.Until.Local().Format(timeLayout), b.Currency, amount(b.Prices.PerMillionRequests), amount(b.Prices.PerGBSecond))
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FUNCTION\tREQUESTS\tGB-SECONDS\tREQUEST COST\tCOMPUTE COST\tCOST\t")
	for _, l := range b.Functions {
		fmt.Fprintf(tw, "%s\t%d\t%.6f\t%s\t%s\t%s\t\n", l.Function, l.Requests, l.GBSeconds, amount(l.RequestCost), amount(l.ComputeCost), amount(l.Cost))
	}
	t := b.Total
	if f := t.FreeTierApplied; f.Requests > 0 || f.GBSeconds > 0 {
		gbs := "0"
		if f.GBSeconds > 0 {
			gbs = fmt.Sprintf("-%.6f", f.GBSeconds)
		}
		fmt.Fprintf(tw, "free tier\t-%d\t%s\t\t\t-%s\t\n", f.Requests, gbs, amount(f.Amount))
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%.6f\t%s\t%s\t%s\t\n", t.Requests, t.GBSeconds, amount(t.RequestCost), amount(t.ComputeCost), amount(t.Cost))
	return tw.Flush()
}

// amount renders money with at least two decimals and as many more as it has, up to ten
// (small functions cost fractions of a cent): 0.20, 0.0000166667, 0.0000001333.
func amount(v float64) string {
	s := strconv.FormatFloat(math.Round(v*1e10)/1e10, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	return whole + "." + frac
}

func (a *app) printBillCSV(b billing.Bill) error {
	w := csv.NewWriter(a.stdout)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	_ = w.Write([]string{"function", "requests", "gb_seconds", "request_cost", "compute_cost", "cost", "currency"})
	for _, l := range b.Functions {
		_ = w.Write([]string{l.Function, strconv.FormatInt(l.Requests, 10), f(l.GBSeconds), f(l.RequestCost), f(l.ComputeCost), f(l.Cost), b.Currency})
	}
	t := b.Total
	_ = w.Write([]string{"TOTAL", strconv.FormatInt(t.Requests, 10), f(t.GBSeconds), f(t.RequestCost), f(t.ComputeCost), f(t.Cost), b.Currency})
	w.Flush()
	return w.Error()
}
