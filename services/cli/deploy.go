package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/api"
	"sluice.dev/services/archive"
)

type deployFlags struct {
	runtime, handler              string
	source, zip, jar, inline      string
	memory, min, max, concurrency int
	retries                       int
	timeout, idleTimeout          time.Duration
	env                           []string
	public                        bool
	description                   string
}

func (a *app) deployCmd() *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "deploy NAME --runtime R --handler H (--source DIR | --zip F | --jar F | --inline CODE) [flags]",
		Short: "Deploy a function (a new version when it exists)",
		Long: `Deploy packages the code, uploads it, and makes a new immutable version of the function.
Deploying an existing name makes its next version, which becomes the latest.

Give the code in exactly one way:
  --source DIR    a folder, zipped here (executable bits kept; symlinks must stay inside)
  --zip FILE      a ZIP file
  --jar FILE      a Java JAR (unpacked on the worker like a ZIP, as AWS Lambda does)
  --inline CODE   the source of a one-file function; its file name follows the runtime and
                  handler (python main.handler -> main.py, nodejs index.handler -> index.js,
                  php index.handle -> index.php, custom -> bootstrap)

Runtimes and handler forms: python module.function, nodejs file.export, java pkg.Class::method,
dotnet Namespace.Class::Method, php file.function, go main, custom (an executable bootstrap).`,
		Example: `  sluice deploy hello --runtime python --handler main.handler --source ./hello
  sluice deploy echo --runtime python --handler main.handler \
      --inline 'def handler(event, context): return event'
  sluice deploy thumbs --runtime nodejs --handler index.handler --zip thumbs.zip \
      --memory 512 --timeout 1m --env BUCKET=images --max 20`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.deploy(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.runtime, "runtime", "", "runtime: python, nodejs, java, dotnet, php, go or custom (required)")
	fl.StringVar(&f.handler, "handler", "", "handler, in the runtime's form, e.g. main.handler (required)")
	fl.StringVar(&f.source, "source", "", "folder with the function's code")
	fl.StringVar(&f.zip, "zip", "", "ZIP file with the function's code")
	fl.StringVar(&f.jar, "jar", "", "JAR file with the function's code (java)")
	fl.StringVar(&f.inline, "inline", "", "the function's source code, as one file")
	fl.IntVar(&f.memory, "memory", 0, fmt.Sprintf("memory in MB, %d to %d (default %d)", 64, 10240, events.DefaultMemoryMB))
	fl.DurationVar(&f.timeout, "timeout", 0, fmt.Sprintf("longest run of one invocation, 1s to 15m (default %s)", events.DefaultTimeout))
	fl.StringArrayVar(&f.env, "env", nil, "environment variable K=V for the function (repeatable)")
	fl.IntVar(&f.min, "min", 0, "instances kept warm (default 0)")
	fl.IntVar(&f.max, "max", 0, fmt.Sprintf("most instances at once, up to 1000 (default %d)", events.DefaultMax))
	fl.IntVar(&f.concurrency, "concurrency", 0, "invocations one instance runs at once (default 1)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 0, fmt.Sprintf("idle time before an instance stops (default %s)", events.DefaultIdleTimeout))
	fl.IntVar(&f.retries, "retries", events.DefaultRetries, "retries of a failed async invocation before the dead-letter queue, 0 to 10")
	fl.BoolVar(&f.public, "public", false, "let anyone call the function URL /fn/NAME without the token")
	fl.StringVar(&f.description, "description", "", "a note shown by get")
	return cmd
}

func (a *app) deploy(cmd *cobra.Command, name string, f deployFlags) error {
	if f.runtime == "" || f.handler == "" {
		return usagef("deploy needs --runtime and --handler (e.g. --runtime python --handler main.handler)")
	}
	req := api.DeployRequest{
		Runtime: f.runtime, Handler: f.handler, MemoryMB: f.memory, Timeout: events.Duration(f.timeout),
		Min: f.min, Max: f.max, Concurrency: f.concurrency, IdleTimeout: events.Duration(f.idleTimeout),
		Public: f.public, Description: f.description,
	}
	if cmd.Flags().Changed("retries") {
		req.Retries = &f.retries
	}
	if len(f.env) > 0 {
		req.Env = map[string]string{}
		for _, kv := range f.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usagef("--env %q: use KEY=VALUE", kv)
			}
			req.Env[k] = v
		}
	}
	zip, err := packageCode(f)
	if err != nil {
		return err
	}
	if len(zip) > api.MaxCodeBytes {
		return fmt.Errorf("the code package is %s; the limit is %s: leave out tests, caches and dev dependencies", humanSize(int64(len(zip))), humanSize(api.MaxCodeBytes))
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	ref, err := c.UploadCode(ctx, zip)
	if err != nil {
		return err
	}
	req.Code = &api.CodeSource{SHA256: ref.SHA256}
	v, err := c.Deploy(ctx, name, req)
	if err != nil {
		return err
	}
	if b := v.Build; b != nil {
		fmt.Fprintf(a.stdout, "built in %.0f ms from code sha256 %s\n", b.DurationMs, short(b.Source.SHA256))
		if b.Output != "" {
			fmt.Fprint(a.stdout, strings.TrimRight(b.Output, "\n")+"\n")
		}
	}
	fmt.Fprintf(a.stdout, "deployed %s version %d (runtime %s, code sha256 %s, %s)\n",
		v.Function, v.Version, v.Config.Runtime, short(v.Code.SHA256), humanSize(v.Code.Size))
	return nil
}

// packageCode builds the ZIP from whichever code flag was given, checking it as the server will.
func packageCode(f deployFlags) ([]byte, error) {
	given := 0
	for _, s := range []string{f.source, f.zip, f.jar, f.inline} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, usagef("give the code in exactly one way: --source DIR, --zip FILE, --jar FILE or --inline CODE")
	}
	var (
		zip []byte
		err error
	)
	switch {
	case f.source != "":
		zip, err = archive.FromDir(f.source)
	case f.inline != "":
		zip, err = archive.FromFile(InlineFileName(f.runtime, f.handler), []byte(f.inline))
	default:
		file := f.zip + f.jar
		if zip, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("read code: %w", err)
		}
		if err := archive.Check(zip, archive.Limits{}); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return zip, nil
}

// InlineFileName is the file an inline function's source is stored as, from its runtime and
// handler: the handler's module for interpreted languages (python pkg.mod.handler ->
// pkg/mod.py, nodejs src/app.handler -> src/app.js), the class for java and dotnet, main.go for
// go, bootstrap for custom.
func InlineFileName(runtime, handler string) string {
	module := handler
	if i := strings.LastIndexByte(handler, '.'); i > 0 {
		module = handler[:i]
	}
	switch runtime {
	case "python":
		return strings.ReplaceAll(module, ".", "/") + ".py"
	case "nodejs":
		return module + ".js"
	case "php":
		return module + ".php"
	case "go":
		return "main.go"
	case "java":
		class, _, _ := strings.Cut(handler, "::")
		return class[strings.LastIndexByte(class, '.')+1:] + ".java"
	case "dotnet":
		class, _, _ := strings.Cut(handler, "::")
		return class[strings.LastIndexByte(class, '.')+1:] + ".cs"
	default:
		return "bootstrap"
	}
}
