// Command bench measures a sluice node against its physical baselines on the same machine, side by
// side in one run: core NATS request/reply, a bare net/http handler and a JetStream publish+consume
// pass-through, against sluice's sync invocations (API and function URL) and async end-to-end
// throughput of a Python and a Go no-op function on `sluice up`, with that process's CPU per
// event (embedded NATS included). Peers: the same Python no-op and bootstrap, and the same Go
// no-op binary (built here with sluice's Go SDK and deployed to the node as it is; given the
// GOMAXPROCS sluice gives its instances), each run under AWS Lambda's Runtime Interface
// Emulator, against the function URL at c=1. Cold invocations of
// Python and Node.js hellos run beside a bare interpreter start. Client and server always run in
// separate processes: the baselines' servers are this binary re-executed in a hidden role.
//
// With a nats-server binary, P7 is measured apart: sluice's roles as `sluice serve` processes
// (gateway, scaler, adapters, worker) on one outside `nats-server -js`, under the same async
// Python no-op load, each process's own CPU read from /proc, so neither the server nor the
// function instances count as sluice's; the server's CPU per event is shown beside it, and P7
// is set against its floor: every async event is two HTTP exchanges for the platform (the call,
// and the Runtime API's answer with the next request) and four and a half bus exchanges, each
// priced at a bare server's CPU per request at c>1 (the net/http server's and the core NATS
// responder's, read from their processes); the all-in-one CPU per event against the HTTP part. The
// scaling rows run on a node of their own, `sluice up --no-worker` with separate `sluice serve
// worker` processes: a burst to a function's max instances (time to max, instance start rate),
// its drain against the ideal N·d/m, and scale from zero against warm. The cluster rows (3
// nats-server nodes; -cluster=false leaves them out) run the async load on `sluice serve` roles.
// It prints a markdown table and writes it to -out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the bench's settings, from flags.
type config struct {
	sluice    string        // the sluice binary
	out       string        // markdown file to write; empty: stdout only
	syncN     int           // measured sync requests per run
	warm      int           // discarded warm-up requests before each latency run
	conc      int           // the "few" of concurrent clients
	streamN   int           // messages through the JetStream pass-through
	asyncN    int           // async invocations end to end
	phaseCap  time.Duration // time cap of each measured phase
	coldN     int           // cold invocations per runtime
	coldPause time.Duration // pause before each cold invocation
	keep      bool          // keep the node's folder and log
	// The scaling rows: a burst of scaleN events of scaleD to a function of max scaleMax, on
	// scaleWorkers `sluice serve worker` processes; none when scaleN is 0.
	scaleN, scaleMax, scaleWorkers int
	scaleD                         time.Duration
	natsServer                     string // nats-server binary of the P7 and cluster rows; "" for none
	cluster                        bool   // run the cluster rows (with natsServer)
	rie                            string // AWS Lambda Runtime Interface Emulator binary of the peer rows; "" for none
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.sluice, "sluice", "./bin/sluice", "sluice binary to measure")
	fs.StringVar(&c.out, "out", "", "write the markdown results here (e.g. bench/RESULTS.md)")
	fs.IntVar(&c.syncN, "sync", 2000, "measured requests per sync run")
	fs.IntVar(&c.warm, "warm", 100, "warm-up requests discarded before each sync run")
	fs.IntVar(&c.conc, "c", 4, "concurrent clients of the throughput runs")
	fs.IntVar(&c.streamN, "stream", 50000, "messages through the JetStream pass-through")
	fs.IntVar(&c.asyncN, "async", 2000, "async invocations end to end")
	fs.DurationVar(&c.phaseCap, "cap", 60*time.Second, "time cap of each measured phase")
	fs.IntVar(&c.coldN, "cold", 20, "cold invocations per runtime (each of a function never invoked before)")
	fs.DurationVar(&c.coldPause, "cold-pause", 400*time.Millisecond, "pause before each cold invocation, for the worker's pre-started process to be replaced")
	fs.BoolVar(&c.keep, "keep", false, "keep the node's temporary folder (data and up.log) for inspection")
	fs.IntVar(&c.scaleN, "scale", 400, "events of the burst to max instances (0: no scaling rows)")
	fs.DurationVar(&c.scaleD, "scale-d", 200*time.Millisecond, "how long each event of the burst runs")
	fs.IntVar(&c.scaleMax, "scale-max", 10, "max instances of the burst's function")
	fs.IntVar(&c.scaleWorkers, "scale-workers", 2, "sluice serve worker processes of the scaling rows")
	fs.StringVar(&c.natsServer, "nats-server", "./bin/nats-server", "nats-server binary of the P7 rows (sluice's processes on an outside server) and the cluster rows (3 nodes on loopback); empty: neither")
	fs.BoolVar(&c.cluster, "cluster", true, "run the cluster rows (they need -nats-server)")
	fs.StringVar(&c.rie, "rie", "./bin/aws-lambda-rie", "AWS Lambda Runtime Interface Emulator binary of the peer rows (the same Python no-op, and the same Go no-op binary, under it); empty: no peer rows")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	if c.scaleN < 0 || (c.scaleN > 0 && (c.scaleD <= 0 || c.scaleMax <= 0 || c.scaleWorkers <= 0)) {
		return c, errors.New("the scaling burst needs a positive duration, max and worker count")
	}
	if c.syncN <= 0 || c.warm < 0 || c.conc <= 0 || c.streamN <= 0 || c.asyncN <= 0 || c.phaseCap <= 0 || c.coldN <= 0 {
		return c, errors.New("counts and the cap must be positive")
	}
	if _, err := os.Stat(c.sluice); err != nil {
		return c, fmt.Errorf("sluice binary: %w (build it with: go tool task build)", err)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 1 && args[1] == roleArg {
		return runRole(ctx, args[2:], stdin, stdout)
	}
	c, err := parseConfig(args, os.Stderr)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	r, err := measureAll(ctx, c, self)
	if err != nil {
		return err
	}
	table := r.markdown(c)
	fmt.Fprint(stdout, table)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(table), 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	return nil
}
