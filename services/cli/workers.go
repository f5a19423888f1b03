package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/client"
)

func (a *app) workersCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "workers [-o json]",
		Short: "List the live workers",
		Long: `Workers prints every worker whose heartbeat is live: ID HOST INSTANCES MEMORY (used/budget)
RUNTIMES, where INSTANCES is the total and the count per function.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) ([]events.WorkerBeat, error) {
				ws, err := c.Workers(ctx)
				if ws == nil {
					ws = []events.WorkerBeat{}
				}
				return ws, err
			}, func(ws []events.WorkerBeat) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tHOST\tINSTANCES\tMEMORY\tRUNTIMES")
				for _, w := range ws {
					total, per := 0, make([]string, 0, len(w.Instances))
					for _, fn := range slices.Sorted(maps.Keys(w.Instances)) {
						total += w.Instances[fn]
						per = append(per, fmt.Sprintf("%s=%d", fn, w.Instances[fn]))
					}
					inst := fmt.Sprint(total)
					if len(per) > 0 {
						inst += " (" + strings.Join(per, ",") + ")"
					}
					id := w.ID
					if w.Draining {
						id += " (draining)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d MB\t%s\n", id, w.Host, inst, w.MemoryUsedMB, w.MemoryBudgetMB, strings.Join(w.Runtimes, ","))
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
