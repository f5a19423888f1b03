package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sluice.dev/events"
)

// sleeperFunction sleeps $SLEEP seconds and answers which instance ran it (a name drawn when
// the instance loaded the module) and when it began, by the machine's clock.
const sleeperFunction = `import os, time, uuid
INSTANCE = uuid.uuid4().hex
def handler(event, context):
    start = time.time()
    time.sleep(float(os.environ["SLEEP"]))
    return {"instance": INSTANCE, "start": start}
`

// scaleResult holds the scaling rows: a burst of n events of duration d to a function of max m,
// on a node without a worker and separate `sluice serve worker` processes.
type scaleResult struct {
	workers, max, n int
	d               time.Duration
	toMax           time.Duration   // from the burst's first event to the m-th instance's first run
	firstToMax      time.Duration   // from the first instance's first run to the m-th's
	firstRuns       []time.Duration // each instance's first run, from the burst's first event
	instances       int             // instances seen running the burst
	drain           time.Duration   // from the first event to the last one's end
	fromZero, warm  sample          // first and second sync invocations of fresh functions
	// Resident memory: the worker processes' together before the burst and at its peak (their
	// instances are processes of their own, not counted), and the control plane's peak.
	workerIdleRSS, workerBurstRSS, controlPeakRSS uint64
	slirp                                         helpers // the instances' slirp4netns at the burst's peak
	err                                           error
}

// measureScale runs `sluice up --no-worker` and c.scaleWorkers `sluice serve worker` processes,
// then the burst and the scale-from-zero invocations.
func measureScale(ctx context.Context, c config) scaleResult {
	r := scaleResult{workers: c.scaleWorkers, max: c.scaleMax, n: c.scaleN, d: c.scaleD}
	n, err := startNode(ctx, c.sluice, c.keep, "--no-worker")
	if err != nil {
		r.err = err
		return r
	}
	defer n.stop()
	var (
		stops []func()
		pids  []int
	)
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for i := range c.scaleWorkers {
		pid, stop, err := n.serveWorker(i)
		if err != nil {
			r.err = err
			return r
		}
		stops, pids = append(stops, stop), append(pids, pid)
	}
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	if err := n.waitWorkers(ctx, client, c.scaleWorkers); err != nil {
		r.err = err
		return r
	}
	if _, err := n.sluice(ctx, "deploy", "sleeper", "--runtime", "python", "--handler", "main.handler",
		"--inline", sleeperFunction, "--max", strconv.Itoa(c.scaleMax), "--memory", "128", "--timeout", "30s",
		"--env", "SLEEP="+strconv.FormatFloat(c.scaleD.Seconds(), 'f', -1, 64)); err != nil {
		r.err = err
		return r
	}
	fmt.Fprintln(os.Stderr, "bench: burst to max")
	for _, pid := range pids {
		if rss, _, err := memory(pid); err == nil {
			r.workerIdleRSS += rss
		}
	}
	sampling := rssPeaks(ctx, pids, 20*time.Millisecond)
	slirps := helperPeaks(ctx, pids, "slirp4netns", 50*time.Millisecond)
	r.burst(ctx, c, n, client)
	for _, peak := range sampling() {
		r.workerBurstRSS += peak
	}
	r.slirp = slirps()
	if _, peak, err := memory(n.cmd.Process.Pid); err == nil {
		r.controlPeakRSS = peak
	}
	if r.err != nil {
		return r
	}
	fmt.Fprintln(os.Stderr, "bench: scale from zero through a worker process")
	auth := []string{"Authorization", "Bearer " + n.Token}
	for i := range c.coldN {
		name := fmt.Sprintf("zero-%d", i)
		if _, err := n.sluice(ctx, "deploy", name, "--runtime", "python", "--handler", "main.handler", "--inline", coldRuntimes[0].code); err != nil {
			r.err = err
			return r
		}
		sleepCtx(ctx, c.coldPause) // the workers' pre-started processes are back
		invoke := poster(client, n.URL+"/v1/functions/"+name+"/invocations", status200, auth...)
		r.fromZero.add(ctx, invoke)
		r.warm.add(ctx, invoke)
	}
	return r
}

// burst sends the events, waits until all of them succeeded and reads, from their results,
// when each instance first ran and when the last event ended.
func (r *scaleResult) burst(ctx context.Context, c config, n *node, client *http.Client) {
	ctx, cancel := context.WithTimeout(ctx, c.phaseCap)
	defer cancel()
	ids := make([]string, r.n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, c.conc*2)
	for g := range c.conc * 2 {
		wg.Go(func() {
			for i := g; i < r.n; i += c.conc * 2 {
				id, err := sendEventTo(ctx, client, n, "sleeper")
				if err != nil {
					errs <- err
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		r.err = fmt.Errorf("send: %w", err)
		return
	default:
	}
	results := map[string]events.Result{}
	for len(results) < r.n {
		for _, id := range ids {
			if _, ok := results[id]; ok {
				continue
			}
			res, err := n.result(ctx, client, id)
			if err == nil && res.Status == events.StatusSucceeded {
				results[id] = res
			}
		}
		if ctx.Err() != nil {
			r.err = fmt.Errorf("%d of %d events succeeded within %s", len(results), r.n, c.phaseCap)
			return
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	first := map[string]float64{} // instance → its first run's start, Unix seconds
	var end time.Time
	for _, res := range results {
		var out struct {
			Instance string  `json:"instance"`
			Start    float64 `json:"start"`
		}
		if err := json.Unmarshal(res.Payload, &out); err != nil || out.Instance == "" {
			r.err = fmt.Errorf("result %s: %s", res.ID, res.Payload)
			return
		}
		if s, ok := first[out.Instance]; !ok || out.Start < s {
			first[out.Instance] = out.Start
		}
		if res.Finished.After(end) {
			end = res.Finished
		}
	}
	starts := make([]float64, 0, len(first))
	for _, s := range first {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	r.instances = len(starts)
	for _, s := range starts {
		r.firstRuns = append(r.firstRuns, time.Unix(0, int64(s*1e9)).Sub(start).Round(time.Millisecond))
	}
	if len(starts) >= r.max {
		at := time.Unix(0, int64(starts[r.max-1]*1e9))
		r.toMax = at.Sub(start)
		r.firstToMax = time.Duration((starts[r.max-1] - starts[0]) * 1e9)
	}
	r.drain = end.Sub(start)
}

// serveWorker starts `sluice serve worker` number i against the node's bus; stop interrupts it
// and waits for it to end.
func (n *node) serveWorker(i int) (pid int, stop func(), err error) {
	dir := filepath.Join(n.dir, fmt.Sprintf("worker-%d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, nil, err
	}
	logf, err := os.Create(filepath.Join(n.dir, fmt.Sprintf("worker-%d.log", i)))
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(n.bin, "serve", "worker", "--nats", n.NATSURL, "--data", dir)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, nil, fmt.Errorf("start sluice serve worker: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	return cmd.Process.Pid, func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}, nil
}

// waitWorkers waits until GET /v1/workers lists want live workers.
func (n *node) waitWorkers(ctx context.Context, client *http.Client, want int) error {
	live := 0
	return n.pollWorkers(ctx, client, func(ws []events.WorkerBeat) error {
		if live = len(ws); live >= want {
			return nil
		}
		return fmt.Errorf("%d of %d workers live within 60s", live, want)
	})
}

// pollWorkers reads GET /v1/workers until done accepts the list (returns nil), for up to 60 s; then
// it returns done's last error.
func (n *node) pollWorkers(ctx context.Context, client *http.Client, done func([]events.WorkerBeat) error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/v1/workers", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+n.Token)
		var list struct {
			Workers []events.WorkerBeat `json:"workers"`
		}
		read := fmt.Errorf("workers unreadable")
		if resp, err := client.Do(req); err == nil {
			if err := json.NewDecoder(resp.Body).Decode(&list); err == nil {
				read = done(list.Workers)
			}
			resp.Body.Close()
		}
		if read == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return read
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// result reads an async invocation's status and result.
func (n *node) result(ctx context.Context, client *http.Client, id string) (events.Result, error) {
	var res events.Result
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/v1/invocations/"+id, nil)
	if err != nil {
		return res, err
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	resp, err := client.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("status %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&res)
	return res, err
}

// scaleRows are the P5 and P6 rows and scale from zero against warm.
func scaleRows(r scaleResult) []row {
	setup := fmt.Sprintf("max %d, %d `serve worker` processes, %d events of %s", r.max, r.workers, r.n, r.d)
	toMax := row{metric: "P5 burst → max instances (" + setup + ")", sluice: "n/a", baseline: "—", ratio: "n/a", target: "≤ 1 s"}
	startRate := row{metric: "P5 instance start rate, same burst: instances 2..m over the time from the 1st to the m-th", sluice: "n/a", baseline: "—", ratio: "n/a", target: "≥ 20/s"}
	ideal := time.Duration(float64(r.n) * float64(r.d) / float64(r.max))
	drain := row{metric: "P6 drain, same burst", sluice: "n/a", baseline: fmtDur(ideal) + " (N·d/m)", ratio: "n/a", target: "≤ 1.2×"}
	if r.toMax > 0 {
		toMax.sluice = fmtDur(r.toMax)
		toMax.target += verdict(r.toMax <= time.Second)
		if r.max > 1 && r.firstToMax > 0 {
			perSec := float64(r.max-1) / r.firstToMax.Seconds()
			startRate.sluice = fmt.Sprintf("%.0f/s", perSec)
			startRate.target += verdict(perSec >= 20)
		}
	} else if r.instances > 0 {
		toMax.sluice = fmt.Sprintf("only %d instances", r.instances)
		toMax.target += verdict(false)
	}
	if r.drain > 0 {
		ratio := float64(r.drain) / float64(ideal)
		drain.sluice, drain.ratio = fmtDur(r.drain), fmt.Sprintf("%.2f×", ratio)
		drain.target += verdict(ratio <= 1.2)
	}
	zero := latencyRow("scale from zero p50, Python hello, through a `serve worker` process", r.fromZero, r.warm, 0.5, "warm invoke p50, same functions", "", 0)
	zero99 := latencyRow("scale from zero p99, same", r.fromZero, r.warm, 0.99, "warm invoke p99", "", 0)
	return append([]row{toMax, startRate, drain, zero, zero99}, memoryRows(r)...)
}

// memoryRows are P8: what a warm instance costs its worker process, and the control plane's size.
func memoryRows(r scaleResult) []row {
	perInstance := row{metric: fmt.Sprintf("P8 worker-side memory per warm instance: %d `serve worker` processes' RSS at the burst's peak minus before it, over %d instances", r.workers, r.max),
		sluice: "n/a", baseline: "—", ratio: "n/a", target: "≤ 5 MiB"}
	if r.workerBurstRSS > 0 && r.workerIdleRSS > 0 && r.instances > 0 {
		grown := uint64(0)
		if r.workerBurstRSS > r.workerIdleRSS {
			grown = r.workerBurstRSS - r.workerIdleRSS
		}
		each := grown / uint64(min(r.instances, r.max))
		perInstance.sluice = mib(each)
		perInstance.target += verdict(each <= 5<<20)
	}
	control := row{metric: "P8 control plane peak RSS: `sluice up --no-worker` (gateway, API, scaler, adapters, embedded NATS) through the burst",
		sluice: "n/a", baseline: "—", ratio: "n/a", target: "≤ 100 MiB"}
	if r.controlPeakRSS > 0 {
		control.sluice = mib(r.controlPeakRSS)
		control.target += verdict(r.controlPeakRSS <= 100<<20)
	}
	rows := []row{perInstance}
	if r.slirp.n > 0 {
		each := r.slirp.pss / uint64(r.slirp.n)
		rows = append(rows, row{metric: fmt.Sprintf("P8 network helper per instance: the instances' slirp4netns processes at the burst's peak (%d of them), PSS (RSS %s each)", r.slirp.n, mib(r.slirp.rss/uint64(r.slirp.n))),
			sluice: mib(each), baseline: "—", ratio: "n/a", target: "—"})
	}
	return append(rows, control)
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
