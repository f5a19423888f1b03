package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// slowPy sleeps, then appends "id start end" to the file $LOG, so the test sees every run as
// the function saw it.
const slowPy = `
import os, time
def handler(event, context):
    start = time.time()
    time.sleep(0.5)
    with open(os.environ["LOG"], "a") as f:
        f.write("%s %f %f\n" % (context.aws_request_id, start, time.time()))
    return "ok"
`

// process is a `sluice serve` process of the test.
type process struct {
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
}

// serveWorker starts `sluice serve worker` against the node's bus.
func serveWorker(t *testing.T, n *node, flags ...string) *process {
	t.Helper()
	args := append([]string{"serve", "worker", "--nats", n.NATSURL, "--data", t.TempDir()}, flags...)
	cmd := exec.Command(n.site.bin, args...)
	cmd.Env = n.site.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, out: newOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice serve worker: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice serve worker output (last lines):\n%s", p.out.tail(60))
		}
		p.kill()
	})
	return p
}

// kill ends the process and everything in its process group at once, as a crash would.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
	}
}

// workerIDs lists the live workers of GET /v1/workers.
func workerIDs(t *testing.T, n *node) []string {
	t.Helper()
	r := n.request(t, http.MethodGet, "/v1/workers", nil, false)
	var list struct {
		Workers []events.WorkerBeat `json:"workers"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("GET /v1/workers: %d %s", r.status, r.body)
	}
	var ids []string
	for _, w := range list.Workers {
		ids = append(ids, w.ID)
	}
	return ids
}

// claimWatch polls a function's instance-slot claims in the bus until stopped: the most held at
// once and every holder seen.
type claimWatch struct {
	mu      sync.Mutex
	peak    int
	holders map[string]bool
	stop    func()
}

func watchClaims(t *testing.T, kv jetstream.KeyValue, fn string) *claimWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &claimWatch{holders: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			held := 0
			if keys, err := kv.ListKeysFiltered(ctx, "claim."+fn+".>"); err == nil {
				for k := range keys.Keys() {
					held++
					if e, err := kv.Get(ctx, k); err == nil {
						w.mu.Lock()
						w.holders[string(e.Value())] = true
						w.mu.Unlock()
					}
				}
			}
			w.mu.Lock()
			w.peak = max(w.peak, held)
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond) // the sampling period, not a wait: the peak is what it saw
		}
	}()
	w.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(w.stop)
	return w
}

func (w *claimWatch) seen(holderSuffix string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for h := range w.holders {
		if strings.HasSuffix(h, holderSuffix) {
			return true
		}
	}
	return false
}

// asyncBurst sends n async invocations over HTTP and returns their ids.
func asyncBurst(t *testing.T, n *node, fn string, count int) []string {
	t.Helper()
	ids := make([]string, count)
	for i := range ids {
		h := n.request(t, http.MethodPost, "/v1/functions/"+fn+"/invocations", []byte(`{}`), false, "X-Sluice-Invocation-Type", "Event")
		var acc struct {
			InvocationID string `json:"invocationId"`
		}
		if h.status != http.StatusAccepted || json.Unmarshal(h.body, &acc) != nil || acc.InvocationID == "" {
			t.Fatalf("async invoke: %d %s", h.status, h.body)
		}
		ids[i] = acc.InvocationID
	}
	return ids
}

// allSucceeded waits until every invocation succeeded.
func allSucceeded(t *testing.T, n *node, ids []string, within time.Duration) {
	t.Helper()
	testkit.EventuallyEvery(t, within, 250*time.Millisecond, func() error {
		left := 0
		for _, id := range ids {
			g := n.request(t, http.MethodGet, "/v1/invocations/"+id, nil, false)
			var res events.Result
			if g.status != http.StatusOK || json.Unmarshal(g.body, &res) != nil || res.Status != events.StatusSucceeded {
				left++
			}
		}
		if left > 0 {
			return fmt.Errorf("%d of %d invocations have not succeeded", left, len(ids))
		}
		return nil
	})
}

// runsOf reads the function's own record of its runs: how often each id ran, and the most runs
// at one moment.
func runsOf(t *testing.T, path string) (count map[string]int, overlap int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the function recorded no run: %v", err)
	}
	defer f.Close()
	type edge struct {
		at float64
		d  int
	}
	var es []edge
	count = map[string]int{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) != 3 {
			continue
		}
		a, _ := strconv.ParseFloat(fs[1], 64)
		b, _ := strconv.ParseFloat(fs[2], 64)
		count[fs[0]]++
		es = append(es, edge{a, 1}, edge{b, -1})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].at < es[j].at || es[i].at == es[j].at && es[i].d < es[j].d })
	n := 0
	for _, e := range es {
		n += e.d
		overlap = max(overlap, n)
	}
	return count, overlap
}

// Two worker processes on one bus, `sluice up`'s and a `sluice serve worker`, share a --max 2
// function: a burst never runs more than 2 instances in all and each event runs once; then the
// second worker is killed mid-burst and every event still completes.
func TestWorkersShareMaxAndSurviveAKill(t *testing.T) {
	// Each worker's memory budget fits one instance of the function, so reaching its max of 2
	// takes both workers: the sharing is certain, not a race for the slots.
	n := newSite(t).start(t, "--isolation", "off", "--memory-budget", "300")
	second := serveWorker(t, n, "--isolation", "off", "--memory-budget", "300")
	suffix := "-" + strconv.Itoa(second.cmd.Process.Pid)
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		if ids := workerIDs(t, n); len(ids) != 2 {
			return fmt.Errorf("live workers %v, want 2", ids)
		}
		return nil
	})

	log := filepath.Join(t.TempDir(), "runs")
	deployInline(t, n, "slow", slowPy, "--max", "2", "--memory", "256", "--retries", "5", "--timeout", "10s", "--env", "LOG="+log)

	_, js := natsClient(t, n.NATSURL)
	kv, err := js.KeyValue(t.Context(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}

	watch := watchClaims(t, kv, "slow")
	ids := asyncBurst(t, n, "slow", 16)
	allSucceeded(t, n, ids, asyncDeadline)
	watch.stop()
	count, overlap := runsOf(t, log)
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("invocation %s ran %d times, want once", id, count[id])
		}
	}
	if overlap > 2 || watch.peak > 2 {
		t.Fatalf("%d runs at once, %d claims at once: want at most 2", overlap, watch.peak)
	}
	if !watch.seen(suffix) {
		t.Errorf("the second worker never held an instance slot of the burst")
	}

	// Kill the second worker while it runs part of a burst.
	watch = watchClaims(t, kv, "slow")
	ids = asyncBurst(t, n, "slow", 16)
	testkit.EventuallyEvery(t, 30*time.Second, 10*time.Millisecond, func() error {
		if !watch.seen(suffix) {
			return fmt.Errorf("the second worker holds no slot yet")
		}
		return nil
	})
	second.kill()
	allSucceeded(t, n, ids, asyncDeadline)
	watch.stop()
	count, overlap = runsOf(t, log)
	for _, id := range ids {
		if count[id] == 0 {
			t.Errorf("invocation %s never ran", id)
		}
	}
	if watch.peak > 2 {
		t.Fatalf("%d claims at once, want at most 2", watch.peak)
	}
	t.Logf("most runs at once over both bursts: %d", overlap)
}
