package cli

import (
	"fmt"
	"log/slog"
	"net/url"

	"github.com/spf13/cobra"

	"sluice.dev/services/clientconfig"
	"sluice.dev/services/keys"
	"sluice.dev/services/node"
)

func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (a *app) upCmd() *cobra.Command {
	var (
		o        node.UpOptions
		secure   string // --s3-secure
		of       observeFlags
		storeMax string // --store-max
	)
	cmd := &cobra.Command{
		Use:   "up [--data DIR] [--listen ADDR] [--no-worker]",
		Short: "Run an all-in-one node (embedded NATS JetStream, API, gateway, worker, scaler, trigger adapters)",
		Long: `Up runs everything in one process around an embedded NATS JetStream server until
interrupted. When it serves, it prints SLUICE_URL, SLUICE_TOKEN and SLUICE_NATS_URL lines
(env-file form) and writes them to the config file, mode 0600, so that the other commands
find the node. On stderr it prints the web console's address with the token in its fragment
(console: http://127.0.0.1:8080/#token=...). More roles can join the same bus with
  sluice serve worker --nats "$SLUICE_NATS_URL"

The data folder keeps functions, pending events, logs and credentials across restarts.

The JetStream store is sized to the disk at every start: half of what the data folder's
filesystem has free (the store's own files counted as free), or --store-max. Each stream and
bucket gets a share of it; a full invocation queue refuses new invocations (507) and keeps
every one it took. While the data folder has no room for the smallest store (32 MiB), up
answers /healthz with 503 and the reason, and looks again every 5 seconds; a --store-max
under 32 MiB, or retention settings that do not fit, stop it at once.

Code URLs (sluice deploy --code-url s3://bucket/key.zip) are fetched from the object storage
given with --s3-endpoint, --s3-access-key and --s3-secret-key, or SLUICE_S3_ENDPOINT,
SLUICE_S3_ACCESS_KEY, SLUICE_S3_SECRET_KEY (and SLUICE_S3_SECURE=true for TLS,
SLUICE_S3_REGION or --s3-region for a store that wants its region named).`,
		Example: `  sluice up
  sluice up --data /var/lib/sluice --listen 127.0.0.1:9000
  SLUICE_S3_ENDPOINT=127.0.0.1:9000 SLUICE_S3_ACCESS_KEY=... SLUICE_S3_SECRET_KEY=... sluice up`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.MemoryBudgetMB < 0 {
				return usagef("--memory-budget must be a positive number of MB (0: half the machine's memory)")
			}
			if err := checkPrestart(o.Prestart); err != nil {
				return err
			}
			if o.DataDir == "" {
				d, err := clientconfig.DataDir(a.getenv)
				if err != nil {
					return usagef("--data: no default data folder (%v): pass --data DIR", err)
				}
				o.DataDir = d
			}
			var err error
			if err = a.s3Options(&o.S3, secure); err != nil {
				return err
			}
			if err = a.observeOptions(cmd, &o.Observe, &of); err != nil {
				return err
			}
			if o.StoreMax, err = checkLimits(storeMax, o.MaxWaiting); err != nil {
				return err
			}
			o.Logger, o.Stderr = a.logger(), a.stderr
			o.Ready = func(e node.Endpoints) {
				lines := []clientconfig.Line{
					{Key: clientconfig.EnvURL, Value: e.URL},
					{Key: clientconfig.EnvToken, Value: e.Token},
					{Key: clientconfig.EnvNATSURL, Value: e.NATSURL},
				}
				fmt.Fprint(a.stdout, clientconfig.Format(lines))
				// The token rides in the fragment, which the browser never sends to the server.
				fmt.Fprintf(a.stderr, "console: %s/#token=%s\n", e.URL, url.QueryEscape(e.Token))
				fmt.Fprintf(a.stderr, "aws: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=\"$SLUICE_TOKEN\" aws --endpoint-url %s lambda list-functions\n",
					keys.AdminKeyID(e.Token), e.URL)
				if p, err := clientconfig.Write(a.getenv, lines); err != nil {
					fmt.Fprintf(a.stderr, "warning: %v; set the variables above yourself\n", err)
				} else {
					o.Logger.Info("client settings written", "path", p)
				}
			}
			return a.roles.Up(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data", "", "data folder (default $XDG_DATA_HOME/sluice, else ~/.local/share/sluice)")
	cmd.Flags().StringVar(&o.Listen, "listen", node.DefaultListen, "address of the API and gateway")
	cmd.Flags().BoolVar(&o.NoWorker, "no-worker", false, "run without a worker (join workers with sluice serve worker)")
	cmd.Flags().BoolVar(&o.NoScaler, "no-scaler", false, "run without a scaler (join scalers with sluice serve scaler)")
	isolationFlags(cmd, &o.Isolation, &o.Network, &o.AllowHost)
	memoryBudgetFlag(cmd, &o.MemoryBudgetMB)
	prestartFlag(cmd, &o.Prestart)
	addObserveFlags(cmd, &o.Observe, &of, false)
	addLimitFlags(cmd, &storeMax, &o.MaxWaiting, false)
	addS3Flags(cmd, &o.S3, &secure)
	return cmd
}

func (a *app) serveCmd() *cobra.Command {
	var (
		o        node.ServeOptions
		secure   string // --s3-secure
		of       observeFlags
		replicas string // --replicas
		storeMax string // --store-max
	)
	cmd := &cobra.Command{
		Use:   "serve ROLE --nats URL[,URL...] [--replicas N] [--data DIR] [--listen ADDR] [--token T]",
		Short: "Run one role (gateway, worker, scaler, adapters) against an existing bus",
		Long: `Serve runs one role of sluice against a NATS JetStream bus until interrupted, for
deployments over several machines. The bus URL (with credentials) is what 'sluice up' prints
as SLUICE_NATS_URL; --nats defaults to that variable, --token to SLUICE_TOKEN.

Roles:
  gateway    the API and invocation endpoints (needs --token)
  worker     runs function instances
  scaler     turns queue lag into desired instances
  adapters   runs the triggers (cron schedules, buckets, queues); several may run at once,
             every event is still published once

Any number of each role may run. On a NATS cluster, list its servers in --nats and start
the roles with --replicas 3; a role without --replicas keeps the replicas the bus has. Besides a user and password in the URL, the bus may take
--nats-token, --nats-creds or --nats-nkey, and TLS with --nats-ca (and --nats-cert and
--nats-key for servers that verify clients); each flag defaults to its SLUICE_NATS_*
variable. A role waits and retries while no server answers, reconnects forever when the
connection is lost, and stops at once with an error when the bus refuses its credentials.`,
		Example: `  sluice serve worker --nats "$SLUICE_NATS_URL"
  sluice serve gateway --nats "$SLUICE_NATS_URL" --listen 0.0.0.0:8080 --token "$SLUICE_TOKEN"
  sluice serve scaler --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 --replicas 3 \
      --nats-creds /etc/sluice/sluice.creds --nats-ca /etc/sluice/nats-ca.pem`,
		Args: exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Role = args[0]
			if o.MemoryBudgetMB < 0 {
				return usagef("--memory-budget must be a positive number of MB (0: half the machine's memory)")
			}
			if err := checkPrestart(o.Prestart); err != nil {
				return err
			}
			if o.NATSURL == "" {
				o.NATSURL = a.getenv(clientconfig.EnvNATSURL)
			}
			if o.NATSURL == "" {
				return usagef("serve needs --nats URL (the SLUICE_NATS_URL that sluice up printed)")
			}
			if o.Token == "" {
				o.Token = a.getenv(clientconfig.EnvToken)
			}
			if o.DataDir == "" {
				o.DataDir, _ = clientconfig.DataDir(a.getenv) // "" without HOME: the role decides
			}
			var err error
			if err = a.s3Options(&o.S3, secure); err != nil {
				return err
			}
			if o.Replicas, err = a.natsOptions(&o.NATSAuth, replicas); err != nil {
				return err
			}
			if err = a.observeOptions(cmd, &o.Observe, &of); err != nil {
				return err
			}
			if o.StoreMax, err = checkLimits(storeMax, o.MaxWaiting); err != nil {
				return err
			}
			o.Logger = a.logger()
			return a.roles.Serve(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.NATSURL, "nats", "", "NATS URL of the bus, or several comma-separated (the servers of a cluster), user and password in the URL allowed (default $SLUICE_NATS_URL)")
	addNATSFlags(cmd, &o.NATSAuth, &replicas)
	cmd.Flags().StringVar(&o.DataDir, "data", "", "data folder for caches (default $XDG_DATA_HOME/sluice, else ~/.local/share/sluice)")
	cmd.Flags().StringVar(&o.Listen, "listen", node.DefaultListen, "address to serve on (gateway)")
	cmd.Flags().StringVar(&o.Token, "token", "", "API token the gateway requires (default $SLUICE_TOKEN)")
	isolationFlags(cmd, &o.Isolation, &o.Network, &o.AllowHost)
	memoryBudgetFlag(cmd, &o.MemoryBudgetMB)
	prestartFlag(cmd, &o.Prestart)
	addObserveFlags(cmd, &o.Observe, &of, true)
	addLimitFlags(cmd, &storeMax, &o.MaxWaiting, true)
	addS3Flags(cmd, &o.S3, &secure)
	return cmd
}

// memoryBudgetFlag is the worker's memory budget, on every command that may run a worker.
func memoryBudgetFlag(cmd *cobra.Command, mb *int) {
	cmd.Flags().IntVar(mb, "memory-budget", 0, "MB the worker may give its function instances in all (sum of their memory settings); it starts no instance beyond it (default half the machine's memory)")
}

// prestartFlag is how many pre-started processes the worker keeps per runtime, on every command
// that may run a worker.
func prestartFlag(cmd *cobra.Command, sizes *map[string]int) {
	cmd.Flags().StringToIntVar(sizes, "prestart", nil, "pre-started, already sandboxed processes the worker keeps per runtime, which a function's cold start takes over instead of starting an interpreter: RUNTIME=N,... over the default of 1 for each of python, nodejs, java and dotnet the machine can run (a JVM waiting costs about 40 MiB, Mono about 30, Node.js 40, Python 12); 0 keeps none")
}

// checkPrestart refuses a negative count of pre-started processes.
func checkPrestart(sizes map[string]int) error {
	for rt, n := range sizes {
		if n < 0 {
			return usagef("--prestart %s=%d: a count of processes is 0 or more", rt, n)
		}
	}
	return nil
}

// isolationFlags are the worker's sandbox settings, on every command that may run a worker.
func isolationFlags(cmd *cobra.Command, isolation, network *string, allow *[]string) {
	cmd.Flags().StringVar(isolation, "isolation", "auto", "sandbox of function instances: auto (isolate with what the host offers, warn about the rest), required (refuse to start without full isolation) or off")
	cmd.Flags().StringVar(network, "network", "egress", "network of function instances, each in a namespace of its own: egress (the outside network, not the host's loopback, addresses or link-local range) or none (a loopback only)")
	cmd.Flags().StringSliceVar(allow, "allow-host", nil, "a host address (IPv4:port, repeatable) functions may reach at the same address, e.g. 127.0.0.1:8080 for the gateway")
}
