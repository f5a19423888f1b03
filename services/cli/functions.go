package cli

import (
	"context"
	"errors"
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

const timeLayout = "2006-01-02 15:04:05"

func (a *app) listCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [-o json]",
		Short: "List functions",
		Long:  `List prints every function with its latest version: NAME VERSION RUNTIME HANDLER MEMORY UPDATED.`,
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) ([]wire.FunctionSummary, error) {
				fns, err := c.List(ctx)
				if fns == nil {
					fns = []wire.FunctionSummary{}
				}
				return fns, err
			}, func(fns []wire.FunctionSummary) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tVERSION\tRUNTIME\tHANDLER\tMEMORY\tUPDATED")
				for _, f := range fns {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d MB\t%s\n", f.Name, f.Latest, f.Runtime, f.Handler, f.MemoryMB, f.Updated.Local().Format(timeLayout))
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) getCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME [-o json]",
		Short: "Show a function and its latest version",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (wire.FunctionDetail, error) {
				return c.Get(ctx, args[0])
			}, func(d wire.FunctionDetail) error {
				a.printFunction(d)
				return nil
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) printFunction(d wire.FunctionDetail) {
	v, cfg := d.Version, d.Version.Config
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, k+":\t"+format+"\n", args...) }
	row("name", "%s", d.Function.Name)
	row("version", "%d (latest)", v.Version)
	row("runtime", "%s", cfg.Runtime)
	row("handler", "%s", cfg.Handler)
	row("memory", "%d MB", cfg.MemoryMB)
	row("timeout", "%s", cfg.Timeout.D())
	row("instances", "min %d, max %d, concurrency %d, idle timeout %s", cfg.Min, cfg.Max, cfg.Concurrency, cfg.IdleTimeout.D())
	row("retries", "%d", cfg.Retries)
	row("public", "%t", cfg.Public)
	if cfg.PublicAsync {
		row("public async", "%t", cfg.PublicAsync)
	}
	row("code", "sha256 %s (%s)", v.Code.SHA256, humanSize(v.Code.Size))
	for i, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		label := ""
		if i == 0 {
			label = "env:"
		}
		fmt.Fprintf(tw, "%s\t%s=%s\n", label, k, cfg.Env[k])
	}
	for _, alias := range slices.Sorted(maps.Keys(d.Function.Aliases)) {
		row("alias", "%s -> %s", alias, aliasTarget(aliasInfo(alias, d.Function.Aliases[alias])))
	}
	if cfg.Description != "" {
		row("description", "%s", cfg.Description)
	}
	row("created", "%s", d.Function.Created.Local().Format(timeLayout))
	row("updated", "%s", d.Function.Updated.Local().Format(timeLayout))
	if sc := d.Scale; sc != nil {
		reason := sc.Reason
		if reason == "" {
			reason = "no decision yet"
		}
		row("lag", "%d", sc.Lag)
		row("desired", "%d (%s)", sc.Desired, reason)
		total, busy := 0, 0
		for _, n := range sc.Running {
			total += n
		}
		for _, n := range sc.Busy {
			busy += n
		}
		row("running", "%d (%d busy)", total, busy)
		for _, id := range slices.Sorted(maps.Keys(sc.Running)) {
			fmt.Fprintf(tw, "\t%s: %d (%d busy)\n", id, sc.Running[id], sc.Busy[id])
		}
	}
	_ = tw.Flush()
}

func (a *app) deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME | NAME:VERSION",
		Short: "Delete a function, or one of its versions",
		Long: `Delete NAME removes the function and all its versions, and drops its queued invocations.
Its logs stay until they age out.

Delete NAME:VERSION removes one version only. The latest version and versions an alias points
at are refused (move the alias first: sluice alias set / alias delete).`,
		Example: `  sluice delete hello
  sluice delete hello:2`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, q := splitQualifier(args[0])
			n := 0
			if q != "" {
				var err error
				if n, err = strconv.Atoi(q); err != nil || n < 1 {
					return usagef("delete %s: after the colon give a version number; delete an alias with sluice alias delete %s %s", args[0], name, q)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if n > 0 {
				if err := c.DeleteVersion(cmd.Context(), name, n); err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "deleted %s version %d\n", name, n)
				return err
			}
			if err := c.Delete(cmd.Context(), name); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "deleted %s\n", name)
			return err
		},
	}
}

func (a *app) logsCmd() *cobra.Command {
	var o client.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs NAME [--follow] [--since DUR] [--invocation ID] [--grep TEXT]",
		Short: "Print a function's log lines",
		Long: `Logs prints what the function printed, one line each: TIME  INVOCATION  MESSAGE.
Without --since, the last 10 minutes. With --follow, new lines are printed as they come
until interrupted (Ctrl-C). --grep keeps the lines that contain TEXT (case-sensitive; the
node filters, so only matching lines cross the network).`,
		Example: `  sluice logs hello --since 1h
  sluice logs hello --follow
  sluice logs hello --invocation 0d9c...
  sluice logs hello --since 1h --grep ERROR`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Since < 0 {
				return usagef("--since %s: use a positive duration", o.Since)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			err = c.Logs(ctx, args[0], o, func(l events.LogLine) error {
				inv := l.InvocationID
				if inv == "" {
					inv = "-"
				}
				_, err := fmt.Fprintf(a.stdout, "%s  %s  %s\n", l.Time.Local().Format("2006-01-02T15:04:05.000"), inv, l.Message)
				return err
			})
			if err != nil && ctx.Err() != nil && !errors.As(err, new(*client.Error)) {
				return nil // interrupted while following
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().DurationVar(&o.Since, "since", 0, "how far back to start, e.g. 30m or 2h (default 10m)")
	cmd.Flags().StringVar(&o.Invocation, "invocation", "", "only the lines of this invocation id")
	cmd.Flags().StringVar(&o.Grep, "grep", "", "only the lines that contain this text")
	return cmd
}

// show is the shape of every read command: check -o, fetch with the client, then print the
// value as JSON or as text.
func show[T any](a *app, cmd *cobra.Command, output string, fetch func(context.Context, *client.Client) (T, error), text func(T) error) error {
	asJSON, err := checkOutput(output)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	v, err := fetch(cmd.Context(), c)
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(v)
	}
	return text(v)
}
