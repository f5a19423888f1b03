package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys (create|list|revoke) ...",
		Short: "Issue, list and revoke access keys with a scope",
		Long: `An access key is an id and a secret with a scope:

  admin    everything the node's token does
  deploy   manage, read and invoke functions (code, settings, versions, aliases, logs)
  invoke   invoke functions, nothing else

--functions limits a deploy or invoke key to functions whose names match a pattern (orders-*):
it sees no other. A key is used as a bearer token (Authorization: Bearer ID.SECRET, the
"token" create prints; SLUICE_TOKEN for this CLI) or by AWS's clients as AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY against the Lambda API. The secret is shown once, when the key is made.`,
		Args: exactArgs(),
	}
	cmd.AddCommand(a.keysCreateCmd(), a.keysListCmd(), a.keysRevokeCmd())
	return cmd
}

func (a *app) keysCreateCmd() *cobra.Command {
	var req wire.KeyRequest
	var output string
	cmd := &cobra.Command{
		Use:   "create --scope admin|deploy|invoke [--functions PATTERN] [-o json]",
		Short: "Issue an access key and print its id, secret and bearer token",
		Example: `  sluice keys create --scope invoke --functions 'orders-*'
  sluice keys create --scope deploy -o json    # {"accessKeyId": ..., "secretAccessKey": ..., ...}`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) (wire.IssuedKey, error) {
				return c.CreateKey(ctx, req)
			}, func(k wire.IssuedKey) error {
				_, err := fmt.Fprintf(a.stdout, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nSLUICE_TOKEN=%s\n", k.AccessKeyID, k.SecretAccessKey, k.Token)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&req.Scope, "scope", "", "what the key may do: admin, deploy or invoke (required)")
	cmd.Flags().StringVar(&req.Functions, "functions", "", "limit the key to functions whose names match this pattern (orders-*)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: print the key as JSON")
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

func (a *app) keysListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [-o json]",
		Short: "List the access keys: ID SCOPE FUNCTIONS CREATED (never their secrets)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) ([]wire.KeyInfo, error) {
				return c.Keys(ctx)
			}, func(ks []wire.KeyInfo) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSCOPE\tFUNCTIONS\tCREATED")
				for _, k := range ks {
					fns := k.Functions
					if fns == "" {
						fns = "*"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.AccessKeyID, k.Scope, fns, k.Created.Local().Format(timeLayout))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: print the keys as JSON")
	return cmd
}

func (a *app) keysRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an access key: nothing it signs or carries is accepted from then on",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "revoked access key %s\n", args[0])
			return err
		},
	}
}
