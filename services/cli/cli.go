package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"sluice.dev/services/client"
	"sluice.dev/services/clientconfig"
	"sluice.dev/services/node"
)

// Roles start sluice's servers for `up` and `serve` with the options the command line filled;
// main wires them to node.Up and node.Serve, tests record what they were asked to run.
type Roles interface {
	Up(ctx context.Context, o node.UpOptions) error
	Serve(ctx context.Context, o node.ServeOptions) error
}

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// errSilent ends a command with ExitFailure after it has printed its own message.
var errSilent = errors.New("failed")

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app is one run of the program.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	roles  Roles
}

// Run runs the sluice command line with args (without the program name) and returns the exit
// code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, roles Roles) int {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, roles: roles}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var u usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errSilent):
		return ExitFailure
	case errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag"):
		fmt.Fprintf(stderr, "error: %v\nRun 'sluice --help' for usage.\n", err)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return ExitFailure
	}
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "sluice runs functions on your own machines",
		Long: `sluice is a serverless function platform: deploy functions in Python, Node.js, Java, C#,
PHP, Go or any language, invoke them over HTTP or from events, and read their logs.

Start a node with 'sluice up'; it prints SLUICE_URL and SLUICE_TOKEN and saves them in
the config file ($XDG_CONFIG_HOME/sluice/config, else ~/.config/sluice/config), where the
other commands find them when the variables are not set.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(a.deployCmd(), a.invokeCmd(), a.invocationCmd(), a.listCmd(), a.getCmd(), a.workersCmd(),
		a.deleteCmd(), a.versionsCmd(), a.aliasCmd(), a.codeCmd(), a.logsCmd(), a.metricsCmd(), a.billCmd(), a.dlqCmd(), a.triggerCmd(), a.eventsCmd(), a.keysCmd(), a.upCmd(), a.serveCmd())
	return root
}

// client returns an API client configured from the environment or the config file.
func (a *app) client() (*client.Client, error) {
	cfg, err := clientconfig.Load(a.getenv)
	if err != nil {
		return nil, err
	}
	return client.New(cfg.URL, cfg.Token, nil), nil
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s; got %d", cmd.Name(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// outputFlag adds -o/--output (text or json).
func outputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "text", "output format: text or json")
}

func checkOutput(out string) (json bool, err error) {
	switch out {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, usagef("--output %q: use text or json", out)
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

// humanSize renders a byte count as B, KiB or MiB.
func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
