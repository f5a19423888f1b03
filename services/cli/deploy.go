package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/client"
)

type deployFlags struct {
	runtime, handler              string
	source, zip, jar, inline      string
	codeURL, manifest             string
	memory, min, max, concurrency int
	retries                       int
	timeout, idleTimeout          time.Duration
	env                           []string
	public, publicAsync           bool
	description                   string
	maxEventAge                   time.Duration
	onSuccess, onFailure          string
}

func (a *app) deployCmd() *cobra.Command {
	var (
		f            deployFlags
		helpManifest bool
	)
	cmd := &cobra.Command{
		Use:   "deploy (NAME --runtime R --handler H (--source DIR | --zip F | --jar F | --code-url s3://B/K | --inline CODE) | -f sluice.yaml [NAME...]) [flags]",
		Short: "Deploy a function (a new version when it exists)",
		Long: `Deploy packages the code, uploads it, and makes a new immutable version of the function.
Deploying an existing name makes its next version, which becomes the latest.

Give the code in exactly one way:
  --source DIR    a folder, zipped here (executable bits kept; symlinks must stay inside)
  --zip FILE      a ZIP file
  --jar FILE      a Java JAR (unpacked on the worker like a ZIP, as AWS Lambda does)
  --code-url URL  a ZIP (or JAR) in object storage, s3://bucket/key.zip, fetched by the node
                  with its own S3 settings (sluice up --s3-endpoint ..., or SLUICE_S3_*)
  --inline CODE   the source of a one-file function; its file name follows the runtime and
                  handler (python main.handler -> main.py, nodejs index.handler -> index.js,
                  php index.handle -> index.php, custom -> bootstrap)

With -f FILE, every function of a manifest (YAML) is deployed, or only the NAMEs given; run
'sluice deploy --help-manifest' for its form.

Runtimes and handler forms: python module.function, nodejs file.export, java pkg.Class::method,
dotnet Namespace.Class::Method, php file.function, go main, custom (an executable bootstrap).`,
		Example: `  sluice deploy hello --runtime python --handler main.handler --source ./hello
  sluice deploy echo --runtime python --handler main.handler \
      --inline 'def handler(event, context): return event'
  sluice deploy thumbs --runtime nodejs --handler index.handler --zip thumbs.zip \
      --memory 512 --timeout 1m --env BUCKET=images --max 20
  sluice deploy report --runtime python --handler main.handler --code-url s3://code/report.zip
  sluice deploy -f sluice.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if helpManifest {
				_, err := fmt.Fprint(a.stdout, manifestHelp)
				return err
			}
			if f.manifest != "" {
				return a.deployManifest(cmd, f, args)
			}
			if err := exactArgs("NAME")(cmd, args); err != nil {
				return err
			}
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
	fl.StringVar(&f.codeURL, "code-url", "", "s3://bucket/key.zip the node fetches the code from")
	fl.StringVarP(&f.manifest, "file", "f", "", "deploy the functions of a manifest (sluice.yaml)")
	fl.BoolVar(&helpManifest, "help-manifest", false, "print the manifest's form and exit")
	fl.IntVar(&f.memory, "memory", 0, fmt.Sprintf("memory in MB, %d to %d (default %d)", 64, 10240, events.DefaultMemoryMB))
	fl.DurationVar(&f.timeout, "timeout", 0, fmt.Sprintf("longest run of one invocation, 1s to 15m (default %s)", events.DefaultTimeout))
	fl.StringArrayVar(&f.env, "env", nil, "environment variable K=V for the function (repeatable)")
	fl.IntVar(&f.min, "min", 0, "instances kept warm (default 0)")
	fl.IntVar(&f.max, "max", 0, fmt.Sprintf("most instances at once, up to 1000 (default %d)", events.DefaultMax))
	fl.IntVar(&f.concurrency, "concurrency", 0, "invocations one instance runs at once (default 1)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 0, fmt.Sprintf("idle time before an instance stops (default %s)", events.DefaultIdleTimeout))
	fl.IntVar(&f.retries, "retries", events.DefaultRetries, "retries of a failed async invocation before the dead-letter queue, 0 to 10")
	fl.BoolVar(&f.public, "public", false, "let anyone call the function URL /fn/NAME without the token (synchronously; see --public-async)")
	fl.BoolVar(&f.publicAsync, "public-async", false, "with --public, let anyone also queue asynchronous calls (X-Sluice-Invocation-Type: Event) on the function URL and public routes without the token")
	fl.StringVar(&f.description, "description", "", "a note shown by get")
	fl.DurationVar(&f.maxEventAge, "max-event-age", 0, fmt.Sprintf("longest an async event may wait, retries included, before it is dead-lettered unrun, 1m to 6h (default %s)", events.DefaultMaxEventAge))
	fl.StringVar(&f.onSuccess, "on-success", "", "where a successful async invocation's record goes: function:NAME or nats:SUBJECT")
	fl.StringVar(&f.onFailure, "on-failure", "", "where a failed async invocation's record goes (it is dead-lettered besides): function:NAME, nats:SUBJECT or dlq")
	return cmd
}

func (a *app) deploy(cmd *cobra.Command, name string, f deployFlags) error {
	if f.runtime == "" {
		return usagef("deploy needs --runtime, and --handler for every runtime but go and custom (e.g. --runtime python --handler main.handler)")
	}
	req := wire.DeployRequest{
		Runtime: f.runtime, Handler: f.handler, MemoryMB: f.memory, Timeout: events.Duration(f.timeout),
		Min: f.min, Max: f.max, Concurrency: f.concurrency, IdleTimeout: events.Duration(f.idleTimeout),
		Public: f.public, PublicAsync: f.publicAsync, Description: f.description,
		MaxEventAge: events.Duration(f.maxEventAge), OnSuccess: f.onSuccess, OnFailure: f.onFailure,
	}
	if cmd.Flags().Changed("retries") {
		req.Retries = &f.retries
	}
	env, err := parseEnv(f.env)
	if err != nil {
		return err
	}
	req.Env = env
	zip, err := packageCode(f)
	if err != nil {
		return err
	}
	if f.codeURL != "" {
		req.Code = &wire.CodeSource{URL: f.codeURL}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	return a.send(cmd.Context(), c, name, req, zip)
}

func parseEnv(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	env := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--env %q: use KEY=VALUE", kv)
		}
		if err := instance.CheckEnvName(k); err != nil {
			return nil, usagef("--env: %w", err)
		}
		env[k] = v
	}
	return env, nil
}

// send uploads zip (unless the request names its code already) and deploys, printing the new
// version and its build.
func (a *app) send(ctx context.Context, c *client.Client, name string, req wire.DeployRequest, zip []byte) error {
	if req.Code == nil {
		if len(zip) > wire.MaxCodeBytes {
			return fmt.Errorf("the code package is %s; the limit is %s: leave out tests, caches and dev dependencies", humanSize(int64(len(zip))), humanSize(wire.MaxCodeBytes))
		}
		ref, err := c.UploadCode(ctx, zip)
		if err != nil {
			return err
		}
		req.Code = &wire.CodeSource{SHA256: ref.SHA256}
	}
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
	from := ""
	if v.Origin != "" {
		from = ", from " + v.Origin
	}
	fmt.Fprintf(a.stdout, "deployed %s version %d (runtime %s, code sha256 %s, %s%s)\n",
		v.Function, v.Version, v.Config.Runtime, short(v.Code.SHA256), humanSize(v.Code.Size), from)
	return nil
}

// packageCode builds the ZIP from whichever code flag was given, checking it as the server will;
// nil for a code URL, which the node fetches.
func packageCode(f deployFlags) ([]byte, error) {
	given := 0
	for _, s := range []string{f.source, f.zip, f.jar, f.inline, f.codeURL} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, usagef("give the code in exactly one way: --source DIR, --zip FILE, --jar FILE, --code-url s3://BUCKET/KEY or --inline CODE")
	}
	if f.codeURL != "" {
		if !strings.HasPrefix(f.codeURL, "s3://") {
			return nil, usagef("--code-url %q: use s3://bucket/key.zip", f.codeURL)
		}
		return nil, nil // the node fetches it
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
