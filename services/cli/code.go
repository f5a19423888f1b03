package cli

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

func aliasInfo(name string, a events.Alias) wire.AliasInfo {
	return wire.AliasInfo{Name: name, Version: a.Version, Additional: a.Additional, Updated: a.Updated}
}

func (a *app) codeCmd() *cobra.Command {
	var (
		version int
		put     string
		output  string
	)
	cmd := &cobra.Command{
		Use:   "code NAME [FILE [--put LOCAL]] [--version N]",
		Short: "List, print or replace the files of a function's code",
		Long: `Code reads the package of the latest version (or --version N): without FILE it lists the
files (PATH SIZE), with FILE it prints that file.

With --put LOCAL (a local file, or - for stdin) it replaces FILE (or adds it) and deploys the
result as a new version with the same settings, as a console editor does; the other files stay
as they are. The edit is refused if another version was deployed since the one read.`,
		Example: `  sluice code hello
  sluice code hello main.py > main.py
  sluice code hello main.py --put main.py`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("code takes NAME and optionally FILE; got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := checkOutput(output)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, name := cmd.Context(), args[0]
			switch {
			case len(args) == 1 && put != "":
				return usagef("--put needs the FILE to replace: sluice code %s main.py --put ./main.py", name)
			case len(args) == 1:
				files, err := c.Files(ctx, name, version)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(files)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PATH\tSIZE")
				for _, f := range files.Files {
					fmt.Fprintf(tw, "%s\t%s\n", f.Path, humanSize(f.Size))
				}
				return tw.Flush()
			case put != "":
				if version != 0 {
					return usagef("--put edits the latest version: leave out --version")
				}
				var content []byte
				if put == "-" {
					content, err = io.ReadAll(a.stdin)
				} else {
					content, err = os.ReadFile(put)
				}
				if err != nil {
					return fmt.Errorf("read %s: %w", put, err)
				}
				v, err := c.EditFile(ctx, name, wire.EditRequest{File: args[1], Content: string(content)})
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(v)
				}
				_, err = fmt.Fprintf(a.stdout, "deployed %s version %d (%s, code sha256 %s)\n", v.Function, v.Version, v.Origin, short(v.Code.SHA256))
				return err
			default:
				f, err := c.File(ctx, name, version, args[1])
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(f)
				}
				content := []byte(f.Content)
				if f.Encoding == "base64" {
					if content, err = base64.StdEncoding.DecodeString(f.Content); err != nil {
						return fmt.Errorf("file %s: %w", f.File, err)
					}
				}
				_, err = a.stdout.Write(content)
				return err
			}
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "read this version instead of the latest")
	cmd.Flags().StringVar(&put, "put", "", "replace FILE with this local file (- for stdin), making a new version")
	outputFlag(cmd, &output)
	return cmd
}
