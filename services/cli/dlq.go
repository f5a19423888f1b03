package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

func (a *app) dlqCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq list|show|redrive|purge NAME",
		Short: "Inspect and redrive a function's dead-lettered events",
		Long: `An asynchronous event that fails on every attempt (the first and its retries) goes to the
function's dead-letter queue with its last error. From there it can be read, sent back to the
function (redrive: same data and attributes, a new delivery; it runs the latest version, so a
fix deployed since takes effect), or thrown away (purge).`,
	}
	cmd.AddCommand(a.dlqListCmd(), a.dlqShowCmd(), a.dlqRedriveCmd(), a.dlqPurgeCmd())
	return cmd
}

func (a *app) dlqListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list NAME [-o json]",
		Short: "List a function's dead-lettered events: SEQ FAILED INVOCATION ATTEMPTS OUTCOME ERROR",
		Long: `List prints every dead-lettered event of the function, oldest first. It reads them a page
at a time (the API answers at most 1000 per request) and prints each page as it comes.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := checkOutput(output)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if asJSON {
				return a.dlqListJSON(cmd.Context(), c, args[0])
			}
			first := true
			return c.EachDeadLetterPage(cmd.Context(), args[0], func(p wire.DeadLetters) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				if first {
					fmt.Fprintln(tw, "SEQ\tFAILED\tINVOCATION\tATTEMPTS\tOUTCOME\tERROR")
					first = false
				}
				for _, d := range p.Events {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", d.Seq, d.FailedAt.Local().Format(timeLayout), d.ID, d.Attempts, d.Outcome, errorText(d.Error, 60))
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// dlqListJSON prints the dead letters as one JSON array, a page at a time.
func (a *app) dlqListJSON(ctx context.Context, c *client.Client, name string) error {
	n := 0
	err := c.EachDeadLetterPage(ctx, name, func(p wire.DeadLetters) error {
		for _, d := range p.Events {
			b, err := json.MarshalIndent(d, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if n == 0 {
				sep = "[\n  "
			}
			if _, err := fmt.Fprintf(a.stdout, "%s%s", sep, b); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		if n > 0 {
			fmt.Fprintln(a.stdout)
		}
		return err
	}
	if n == 0 {
		_, err = fmt.Fprintln(a.stdout, "[]")
	} else {
		_, err = fmt.Fprintln(a.stdout, "\n]")
	}
	return err
}

func errorText(e *events.FunctionError, limit int) string {
	if e == nil {
		return "-"
	}
	s := e.Error()
	if limit > 0 && len(s) > limit {
		s = s[:limit-1] + "…"
	}
	return s
}

func parseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, usagef("SEQ %q: use the number in the SEQ column of sluice dlq list", s)
	}
	return n, nil
}

func (a *app) dlqShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME SEQ [-o json]",
		Short: "Show one dead-lettered event: its attributes, data, last error and attempts",
		Args:  exactArgs("NAME", "SEQ"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq(args[1])
			if err != nil {
				return err
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (events.DeadLetter, error) {
				return c.DeadLetter(ctx, args[0], seq)
			}, func(d events.DeadLetter) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				row := func(k, format string, args ...any) { fmt.Fprintf(tw, k+":\t"+format+"\n", args...) }
				row("seq", "%d", d.Seq)
				row("invocation", "%s", d.ID)
				row("failed", "%s after %d attempt(s), outcome %s", d.FailedAt.Local().Format(timeLayout), d.Attempts, d.Outcome)
				row("error", "%s", errorText(d.Error, 0))
				if d.Redriven > 0 {
					row("redriven", "%d time(s) before", d.Redriven)
				}
				for _, k := range slices.Sorted(maps.Keys(d.Attributes)) {
					row("ce-"+k, "%s", d.Attributes[k])
				}
				row("data", "%s", d.Data)
				if err := tw.Flush(); err != nil {
					return err
				}
				if d.Error != nil && len(d.Error.Trace) > 0 {
					fmt.Fprintln(a.stdout, "trace:")
					for _, l := range d.Error.Trace {
						fmt.Fprintln(a.stdout, "  "+l)
					}
				}
				return nil
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) dlqRedriveCmd() *cobra.Command {
	var (
		output string
		seqs   []string
	)
	cmd := &cobra.Command{
		Use:   "redrive NAME [--seq N]... [-o json]",
		Short: "Send dead-lettered events back to the function (all, or those of --seq)",
		Long: `Redrive sends dead-lettered events back to the function: those of --seq, or every one the
queue holds when it starts, a page at a time (events that fail again meanwhile wait for the
next redrive).`,
		Example: `  sluice dlq redrive hello
  sluice dlq redrive hello --seq 12 --seq 15`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ns []uint64
			for _, s := range seqs {
				n, err := parseSeq(s)
				if err != nil {
					return err
				}
				ns = append(ns, n)
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (wire.Redriven, error) {
				return c.Redrive(ctx, args[0], ns...)
			}, func(r wire.Redriven) error {
				for _, e := range r.Redriven {
					fmt.Fprintf(a.stdout, "redriven %d (invocation %s)\n", e.Seq, e.ID)
				}
				_, err := fmt.Fprintf(a.stdout, "%d event(s) sent back to %s\n", len(r.Redriven), r.Function)
				return err
			})
		},
	}
	cmd.Flags().StringSliceVar(&seqs, "seq", nil, "sequence number of an event to redrive (repeat for more); default all")
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) dlqPurgeCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "purge NAME [-o json]",
		Short: "Throw away every dead-lettered event of the function",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (wire.Purged, error) {
				return c.PurgeDeadLetters(ctx, args[0])
			}, func(p wire.Purged) error {
				_, err := fmt.Fprintf(a.stdout, "purged %d event(s) of %s\n", p.Purged, p.Function)
				return err
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
