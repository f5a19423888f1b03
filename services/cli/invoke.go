package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/client"
)

func (a *app) invokeCmd() *cobra.Command {
	var (
		data, qualifier string
		async, verbose  bool
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME[:VERSION|:ALIAS] [--data JSON|@FILE] [--async]",
		Short: "Invoke a function and print its response",
		Long: `Invoke sends an event to the function. The handler receives the event data ({} when
--data is not given).

Synchronously (the default), the function's response is printed on stdout and the exit code
is 0. When the function fails, times out or crashes, "error (OUTCOME): TYPE: MESSAGE" is
printed on stderr and the exit code is 1.

With --async the event is queued (retried on failure) and only its invocation id is printed;
see its result with 'sluice invocation ID'.

NAME:VERSION runs that version, NAME:ALIAS the alias's (a canary alias picks per call);
NAME alone runs the latest. With --verbose the version that ran is printed on stderr.`,
		Example: `  sluice invoke hello --data '{"name":"Ada"}'
  sluice invoke hello --data @event.json
  echo '{"n":1}' | sluice invoke hello --data @-
  sluice invoke hello:3 --async
  sluice invoke hello:prod --verbose`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := a.readData(data)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			name, q := splitQualifier(args[0])
			if q != "" && qualifier != "" && q != qualifier {
				return usagef("invoke %s: the qualifier is given twice (%s and --qualifier %s)", args[0], q, qualifier)
			}
			if q == "" {
				q = qualifier
			}
			inv, err := c.Invoke(cmd.Context(), name, body, client.InvokeOptions{Async: async, Qualifier: q})
			if err != nil {
				return err
			}
			if verbose && inv.Version > 0 {
				fmt.Fprintf(a.stderr, "%s version %d, invocation %s\n", name, inv.Version, inv.ID)
			}
			if inv.Async {
				_, err := fmt.Fprintln(a.stdout, inv.ID)
				return err
			}
			if inv.Outcome != events.OutcomeOK {
				fmt.Fprintf(a.stderr, "error (%s): %s: %s\n", inv.Outcome, inv.Error.Type, inv.Error.Message)
				return errSilent
			}
			out := inv.Payload
			if !bytes.HasSuffix(out, []byte("\n")) {
				out = append(out, '\n')
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "event data: JSON, @FILE to read a file, or @- to read stdin (default {})")
	cmd.Flags().BoolVar(&async, "async", false, "queue the event and print its invocation id")
	cmd.Flags().StringVarP(&qualifier, "qualifier", "q", "", "version number or alias to invoke, as NAME:QUALIFIER does (default: latest)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the version that ran and the invocation id on stderr")
	return cmd
}

func (a *app) readData(data string) ([]byte, error) {
	switch {
	case data == "":
		return []byte("{}"), nil
	case data == "@-":
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return nil, fmt.Errorf("read data from stdin: %w", err)
		}
		return b, nil
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, fmt.Errorf("read data: %w", err)
		}
		return b, nil
	default:
		return []byte(data), nil
	}
}

func (a *app) invocationCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "invocation ID [-o json]",
		Short: "Show the status and result of an invocation",
		Long: `Invocation shows an async invocation's status, outcome, attempts and result (or error).
The exit code is 1 when the invocation failed. With -o json the record is printed as JSON and
the exit code is 0 whatever the invocation's outcome.`,
		Example: `  id=$(sluice invoke hello --async --data '{"name":"Ada"}')
  sluice invocation "$id"`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (events.Result, error) {
				return c.Invocation(ctx, args[0])
			}, func(r events.Result) error {
				a.printResult(r)
				if r.Status == events.StatusFailed {
					return errSilent
				}
				return nil
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) printResult(r events.Result) {
	w := a.stdout
	fmt.Fprintf(w, "id:        %s\n", r.ID)
	if r.Version > 0 {
		fmt.Fprintf(w, "function:  %s (version %d)\n", r.Function, r.Version)
	} else {
		fmt.Fprintf(w, "function:  %s\n", r.Function)
	}
	fmt.Fprintf(w, "status:    %s\n", r.Status)
	if r.Outcome != "" {
		fmt.Fprintf(w, "outcome:   %s\n", r.Outcome)
	}
	fmt.Fprintf(w, "attempts:  %d\n", r.Attempts)
	if r.DurationMs > 0 {
		fmt.Fprintf(w, "duration:  %.1f ms\n", r.DurationMs)
	}
	if r.Error != nil {
		fmt.Fprintf(w, "error:     %s: %s\n", r.Error.Type, r.Error.Message)
		for _, l := range r.Error.Trace {
			fmt.Fprintf(w, "           %s\n", l)
		}
	}
	if len(r.Payload) > 0 {
		fmt.Fprintf(w, "result:    %s\n", r.Payload)
	}
}
