package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// The cluster rows run sluice as separate `sluice serve` processes on a 3-node NATS JetStream
// cluster of nats-server processes (every stream, bucket and object store with 3 replicas), all
// on this machine: the P2 async load beside the all-in-one node's, and throughput of a function
// that waits clusterWait per event on one, two and three worker processes, each worker's memory
// budget holding clusterSlots instances.
const (
	clusterWait  = 50 * time.Millisecond
	clusterSlots = 4
	clusterMemMB = 128
)

// waitFunction is the function of the worker rows: it waits, as one calling another service.
const waitFunction = "import time\n\ndef handler(e, c):\n    time.sleep(0.05)\n    return None\n"

// clusterResult is what the cluster rows measured.
type clusterResult struct {
	jsPass  throughput   // the JetStream pass-through on the cluster, the stream with 3 replicas
	noop    throughput   // the P2 load: Python no-op, --max 2, three workers
	workers []throughput // waitFunction on 1, 2 and 3 worker processes
	waitN   int
}

// measureCluster starts the cluster, the roles and the loads; everything it started is stopped
// before it returns.
func measureCluster(ctx context.Context, c config, self string, r *results) *clusterResult {
	bin, err := natsServerBin(c)
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	procs, err := newProcDir("sluice-bench-cluster-", "the cluster's", c.keep)
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	defer procs.close()
	dir := procs.dir
	start := func(name, ready string, bin string, env []string, args ...string) error {
		_, err := procs.start(ctx, name, ready, bin, env, args...)
		return err
	}

	urls, err := natsClusterConfs(dir, 3)
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	for i := range urls {
		name := fmt.Sprintf("n%d", i+1)
		if err := start(name, "Server is ready", bin, os.Environ(), "-c", filepath.Join(dir, name+".conf")); err != nil {
			r.note("cluster: %v", err)
			return nil
		}
	}
	busURL := strings.Join(urls, ",")
	nc, err := waitJetStream(ctx, busURL)
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	defer nc.Close()
	fmt.Fprintln(os.Stderr, "bench: cluster, JetStream pass-through (R3)")
	r.quiet(ctx, "cluster, JetStream pass-through")
	jsPass := measureJetStream(ctx, c, self, busURL, nc, 3)
	if jsPass.err != nil {
		r.note("cluster, JetStream pass-through: %v", jsPass.err)
	}

	sluice, err := filepath.Abs(c.sluice)
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	env := ownEnv(dir)
	addr, err := freeAddr()
	if err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	token := randomToken()
	bus := []string{"--nats", busURL, "--replicas", "3"}
	role := func(name string, args ...string) error {
		return start(name, "sluice serving", sluice, env, append(append(args, bus...), "--data", filepath.Join(dir, name))...)
	}
	if err := role("gateway", "serve", "gateway", "--listen", addr, "--token", token); err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	if err := role("scaler", "serve", "scaler"); err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	n := &node{bin: sluice, dir: dir, env: env, URL: "http://" + addr, Token: token}
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	if _, err := n.sluice(ctx, "deploy", "wait", "--runtime", "python", "--handler", "main.handler", "--inline", waitFunction,
		"--memory", fmt.Sprint(clusterMemMB), "--max", fmt.Sprint(3*clusterSlots), "--idle-timeout", "2s"); err != nil {
		r.note("cluster: %v", err)
		return nil
	}
	if _, err := n.sluice(ctx, "deploy", "noop", "--runtime", "python", "--handler", "main.handler", "--inline", noopFunction, "--max", "2"); err != nil {
		r.note("cluster: %v", err)
		return nil
	}

	res := &clusterResult{jsPass: jsPass, waitN: c.asyncN / 2}
	for w := 1; w <= 3; w++ {
		if err := role(fmt.Sprintf("worker-%d", w), "serve", "worker", "--memory-budget", fmt.Sprint(clusterSlots*clusterMemMB)); err != nil {
			r.note("cluster: %v", err)
			return res
		}
		if err := n.waitWorkers(ctx, client, w); err != nil {
			r.note("cluster: %v", err)
			return res
		}
		fmt.Fprintf(os.Stderr, "bench: cluster, %d worker processes\n", w)
		r.quiet(ctx, fmt.Sprintf("cluster, %d workers", w))
		t := asyncThrough(ctx, c, n, nc, client, "wait", res.waitN)
		if t.err != nil {
			r.note("cluster, %d workers: %v", w, t.err)
		}
		res.workers = append(res.workers, t)
	}
	// The wait function's idle instances hold the workers' memory budgets until they stop.
	if err := waitMemoryFree(ctx, n, client); err != nil {
		r.note("cluster: %v", err)
	}
	fmt.Fprintln(os.Stderr, "bench: cluster, the P2 async load")
	r.quiet(ctx, "cluster, async no-op")
	res.noop = asyncThrough(ctx, c, n, nc, client, "noop", c.asyncN)
	if res.noop.err != nil {
		r.note("cluster, async no-op: %v", res.noop.err)
	}
	r.note("cluster, async no-op: %d events accepted (202) in %s, all finished in %s; %d of them cold starts",
		res.noop.n, res.noop.accepted.Round(time.Millisecond), res.noop.elapsed.Round(time.Millisecond), res.noop.cold)
	return res
}

// clusterTarget is the cluster's async throughput against one node's, at least.
const clusterTarget = 0.5

// clusterRows compare the cluster's async throughput to the all-in-one node's of the same run,
// beside what the same three servers do to the bus's own pass-through, and show it with one, two
// and three worker processes.
func clusterRows(cr *clusterResult, up, pass throughput, p7 *platformCPU) []row {
	noop := row{metric: "async end to end, Python no-op, events/s: 3 NATS nodes (R3), `serve` gateway + scaler + 3 workers",
		sluice: rate(cr.noop.perSecond()), baseline: rate(up.perSecond()) + " (`sluice up`, same run)", ratio: "n/a", target: fmt.Sprintf("≥ %g×", clusterTarget)}
	if cr.noop.perSecond() > 0 && up.perSecond() > 0 {
		ratio := cr.noop.perSecond() / up.perSecond()
		noop.ratio = fmt.Sprintf("%.2f×", ratio)
		noop.target += verdict(ratio >= clusterTarget)
	}
	bus := row{metric: "the bus alone on the same cluster: JetStream pass-through, the stream with 3 replicas",
		sluice: rate(cr.jsPass.perSecond()), baseline: rate(pass.perSecond()) + " (one node, 1 replica, same run)", ratio: "n/a", target: "—"}
	if cr.jsPass.perSecond() > 0 && pass.perSecond() > 0 {
		bus.ratio = fmt.Sprintf("%.2f×", cr.jsPass.perSecond()/pass.perSecond())
	}
	rows := []row{noop}
	if p7 != nil && p7.async.perSecond() > 0 && cr.noop.perSecond() > 0 {
		// The same roles as processes on one outside server (P7's run): what replication costs
		// sluice, beside what it costs the bus alone (the next row).
		rows = append(rows, row{metric: "the same cluster load against the roles as processes on one outside `nats-server` (P7's run, 1 replica)",
			sluice: rate(cr.noop.perSecond()), baseline: rate(p7.async.perSecond()) + " (P7's run)",
			ratio: fmt.Sprintf("%.2f×", cr.noop.perSecond()/p7.async.perSecond()), target: "—"})
	}
	rows = append(rows, bus)
	for i, t := range cr.workers {
		x := row{metric: fmt.Sprintf("async events/s on the cluster, %s function, %d worker process(es) of %d instances each",
			clusterWait, i+1, clusterSlots), sluice: rate(t.perSecond()), baseline: "—", ratio: "n/a", target: "—"}
		if one := cr.workers[0].perSecond(); i > 0 && one > 0 && t.perSecond() > 0 {
			x.baseline = rate(one) + " (1 worker)"
			x.ratio = fmt.Sprintf("%.2f×", t.perSecond()/one)
		}
		rows = append(rows, x)
	}
	return rows
}

// natsClusterConfs writes the configuration files of a JetStream cluster of size nodes on free
// loopback ports and returns their client URLs with the credentials.
func natsClusterConfs(dir string, size int) ([]string, error) {
	password := randomToken()
	clientAddrs, routeAddrs := make([]string, size), make([]string, size)
	for i := range size {
		var err error
		if clientAddrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
		if routeAddrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	var urls []string
	for i := range size {
		var routes []string
		for j, a := range routeAddrs {
			if j != i {
				routes = append(routes, "nats-route://"+a)
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		conf := fmt.Sprintf("server_name: %s\nlisten: %s\nmax_payload: 8388608\n"+
			"authorization { user: sluice, password: %s }\n"+
			"jetstream { store_dir: %q, max_file_store: 68719476736, max_memory_store: 268435456 }\n"+
			"cluster { name: sluice, listen: %s, routes: [%s] }\n",
			name, clientAddrs[i], password, filepath.Join(dir, name), routeAddrs[i], strings.Join(routes, ", "))
		if err := os.WriteFile(filepath.Join(dir, name+".conf"), []byte(conf), 0o600); err != nil {
			return nil, err
		}
		urls = append(urls, "nats://sluice:"+password+"@"+clientAddrs[i])
	}
	return urls, nil
}

// waitJetStream connects to the cluster once it answers JetStream requests.
func waitJetStream(ctx context.Context, url string) (*nats.Conn, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.Name("sluice-bench"), nats.MaxReconnects(-1))
		if err == nil {
			js, jerr := jetstream.New(nc)
			if jerr == nil {
				actx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, jerr = js.AccountInfo(actx)
				cancel()
			}
			if jerr == nil {
				return nc, nil
			}
			err = jerr
			nc.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("the NATS cluster did not answer JetStream requests within 60s: %w", err)
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// benchProc is a server process of the cluster rows, its output in DIR/NAME.log.
type benchProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startBenchProc runs bin and waits until a line of its output contains ready.
// natsServerBin is the nats-server binary of c, made absolute, or why there is none.
func natsServerBin(c config) (string, error) {
	bin, err := filepath.Abs(c.natsServer)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		return "", fmt.Errorf("no nats-server (%w): install it with `go tool task nats-server`", err)
	}
	return bin, nil
}

// procDir is a run's temporary folder and the processes started in it, each logging to
// NAME.log there. close stops them, the newest first, and removes the folder unless it is kept.
type procDir struct {
	dir, what string
	keep      bool
	procs     []*benchProc
}

// newProcDir makes the folder of a run; what names it in the line that says it was kept.
func newProcDir(prefix, what string, keep bool) (*procDir, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	return &procDir{dir: dir, what: what, keep: keep}, nil
}

// start starts a process as startBenchProc does and stops it with the others.
func (d *procDir) start(ctx context.Context, name, ready, bin string, env []string, args ...string) (*benchProc, error) {
	p, err := startBenchProc(ctx, d.dir, name, ready, bin, env, args...)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	return p, nil
}

func (d *procDir) close() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].stop()
	}
	if d.keep {
		fmt.Fprintf(os.Stderr, "bench: kept %s folder (logs *.log): %s\n", d.what, d.dir)
		return
	}
	_ = os.RemoveAll(d.dir)
}

func startBenchProc(ctx context.Context, dir, name, ready, bin string, env []string, args ...string) (*benchProc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &benchProc{cmd: cmd, done: make(chan struct{})}
	seen := make(chan struct{})
	go func() {
		defer logf.Close()
		s := bufio.NewScanner(pr)
		once := sync.Once{}
		for s.Scan() {
			fmt.Fprintln(logf, s.Text())
			if strings.Contains(s.Text(), ready) {
				once.Do(func() { close(seen) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() { _ = cmd.Wait(); pw.Close(); close(p.done) }()
	select {
	case <-seen:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it served; see %s", name, filepath.Join(dir, name+".log"))
	case <-time.After(90 * time.Second):
	case <-ctx.Done():
	}
	p.stop()
	return nil, errors.Join(fmt.Errorf("%s did not serve within 90s", name), ctx.Err())
}

// stop interrupts the process and kills its group if it has not ended after 30 s.
func (p *benchProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// waitMemoryFree waits until no worker has memory set aside for instances.
func waitMemoryFree(ctx context.Context, n *node, client *http.Client) error {
	return n.pollWorkers(ctx, client, func(ws []events.WorkerBeat) error {
		used := 0
		for _, w := range ws {
			used += w.MemoryUsedMB
		}
		if used > 0 {
			return fmt.Errorf("workers still hold %d MB for instances after 60s", used)
		}
		return nil
	})
}
