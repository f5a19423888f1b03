package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

// splitQualifier splits NAME:QUALIFIER.
func splitQualifier(arg string) (name, qualifier string) {
	name, qualifier, _ = strings.Cut(arg, ":")
	return name, qualifier
}

func (a *app) versionsCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "versions NAME [-o json]",
		Short: "List a function's versions",
		Long: `Versions prints every version of the function, oldest first:
VERSION CREATED RUNTIME CODE BUILD. CODE is the sha256 and size of the package instances run,
and where it came from when it was not uploaded (s3://..., an inline edit); BUILD is the
deploy-time build's duration for runtimes that compile. The latest version and the aliases
pointing at each version are marked after the number.

Invoke one with 'sluice invoke NAME:VERSION', name one with 'sluice alias set', remove one with
'sluice delete NAME:VERSION'.`,
		Example: `  sluice versions hello
  sluice versions hello -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			type listing struct {
				Versions []events.Version `json:"versions"`
				Aliases  []wire.AliasInfo `json:"aliases"`
				Latest   int              `json:"latest"`
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (listing, error) {
				d, err := c.Get(ctx, args[0])
				if err != nil {
					return listing{}, err
				}
				vs, err := c.Versions(ctx, args[0])
				if err != nil {
					return listing{}, err
				}
				al, err := c.Aliases(ctx, args[0])
				if vs == nil {
					vs = []events.Version{}
				}
				if al == nil {
					al = []wire.AliasInfo{}
				}
				return listing{Versions: vs, Aliases: al, Latest: d.Function.Latest}, err
			}, func(l listing) error {
				marks := map[int][]string{l.Latest: {"latest"}}
				for _, al := range l.Aliases {
					marks[al.Version] = append(marks[al.Version], al.Name)
					if w := al.Additional; w != nil {
						marks[w.Version] = append(marks[w.Version], fmt.Sprintf("%s %s", al.Name, percent(w.Weight)))
					}
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tCREATED\tRUNTIME\tCODE\tBUILD")
				for _, v := range l.Versions {
					num := strconv.Itoa(v.Version)
					if m := marks[v.Version]; len(m) > 0 {
						num += " (" + strings.Join(m, ", ") + ")"
					}
					code := short(v.Code.SHA256) + " " + humanSize(v.Code.Size)
					if v.Origin != "" {
						code += " " + v.Origin
					}
					build := "-"
					if v.Build != nil {
						build = fmt.Sprintf("%.0f ms", v.Build.DurationMs)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", num, v.Created.Local().Format(timeLayout), v.Config.Runtime, code, build)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// percent renders a weight (0.1) as a share ("10%").
func percent(w float64) string {
	return strconv.FormatFloat(w*100, 'f', -1, 64) + "%"
}

func (a *app) aliasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias (set|list|delete) NAME ...",
		Short: "Name versions of a function: aliases and canaries",
		Long: `An alias is a stable name for a version of a function, such as prod or beta: invoke it with
'sluice invoke NAME:ALIAS', POST /v1/functions/NAME/invocations?qualifier=ALIAS, or the function
URL /fn/NAME:ALIAS. Moving the alias moves every caller at once.

An alias may send a share of its invocations to a second version (a canary): with
--weight 4=10, one invocation in ten runs version 4, the rest the alias's version. The answer's
X-Sluice-Version header says which version ran.

A version an alias points at cannot be deleted until the alias moves.`,
		Args: exactArgs(),
	}
	cmd.AddCommand(a.aliasSetCmd(), a.aliasListCmd(), a.aliasDeleteCmd())
	return cmd
}

func (a *app) aliasSetCmd() *cobra.Command {
	var weight string
	cmd := &cobra.Command{
		Use:   "set NAME ALIAS VERSION [--weight V2=PCT]",
		Short: "Create or move an alias, optionally with a weighted second version",
		Example: `  sluice alias set hello prod 3
  sluice alias set hello prod 3 --weight 4=10    # 10% of prod's invocations run version 4
  sluice alias set hello prod 4                  # promote: every invocation runs version 4`,
		Args: exactArgs("NAME", "ALIAS", "VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[2])
			if err != nil || n < 1 {
				return usagef("VERSION %q: use a version number (see sluice versions %s)", args[2], args[0])
			}
			req := wire.AliasRequest{Version: n}
			if weight != "" {
				if req.Additional, err = parseWeight(weight); err != nil {
					return err
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			al, err := c.SetAlias(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "alias %s of %s -> %s\n", al.Name, args[0], aliasTarget(al))
			return err
		},
	}
	cmd.Flags().StringVar(&weight, "weight", "", "a second version and the percentage of invocations it gets, V2=PCT (e.g. 4=10)")
	return cmd
}

// parseWeight reads V2=PCT.
func parseWeight(s string) (*events.Weighted, error) {
	v, p, ok := strings.Cut(s, "=")
	n, err1 := strconv.Atoi(v)
	pct, err2 := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
	if !ok || err1 != nil || err2 != nil || n < 1 {
		return nil, usagef("--weight %q: use VERSION=PERCENT, e.g. 4=10 for 10%% of invocations to version 4", s)
	}
	if !(pct > 0 && pct < 100) {
		return nil, usagef("--weight %q: the percentage must be above 0 and below 100", s)
	}
	return &events.Weighted{Version: n, Weight: pct / 100}, nil
}

func aliasTarget(al wire.AliasInfo) string {
	if w := al.Additional; w != nil {
		return fmt.Sprintf("version %d (%s), version %d (%s)", al.Version, percent(1-w.Weight), w.Version, percent(w.Weight))
	}
	return fmt.Sprintf("version %d", al.Version)
}

func (a *app) aliasListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list NAME [-o json]",
		Short: "List a function's aliases: ALIAS VERSION WEIGHTED UPDATED",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) ([]wire.AliasInfo, error) {
				al, err := c.Aliases(ctx, args[0])
				if al == nil {
					al = []wire.AliasInfo{}
				}
				return al, err
			}, func(al []wire.AliasInfo) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ALIAS\tVERSION\tWEIGHTED\tUPDATED")
				for _, x := range al {
					weighted := "-"
					if w := x.Additional; w != nil {
						weighted = fmt.Sprintf("%d (%s)", w.Version, percent(w.Weight))
					}
					updated := "-"
					if !x.Updated.IsZero() {
						updated = x.Updated.Local().Format(timeLayout)
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", x.Name, x.Version, weighted, updated)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) aliasDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME ALIAS",
		Short: "Delete an alias (its versions stay)",
		Args:  exactArgs("NAME", "ALIAS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteAlias(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "deleted alias %s of %s\n", args[1], args[0])
			return err
		},
	}
}
