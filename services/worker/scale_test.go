package worker_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/services/archive"
	"sluice.dev/services/directory"
	"sluice.dev/services/gateway"
	"sluice.dev/services/registry"
	"sluice.dev/services/telemetry"
	"sluice.dev/services/worker"
)

// claimTTL is the short claim TTL of these tests, so that a dead worker's slots free quickly.
const claimTTL = 1500 * time.Millisecond

// cluster is one bus, registry, directory and gateway, and workers joined one by one.
type cluster struct {
	*fixture
	fns    *directory.Directory
	rts    *catalog.Catalog
	logger *slog.Logger
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	bus := bustest.StartWith(t, events.BusOptions{ClaimTTL: claimTTL, WorkerTTL: 2 * claimTTL})
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rts := catalog.New(catalog.Options{})
	reg, err := registry.New(bus.JS, rts, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fns, err := directory.Open(ctx, bus.JS, logger)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(ctx, gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: fns, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		gw.Close()
		fns.Close()
	})
	return &cluster{fixture: &fixture{bus: bus, reg: reg, gw: gw}, fns: fns, rts: rts, logger: logger}
}

// member is a worker of the cluster with its own bus connection.
type member struct {
	w    *worker.Worker
	nc   *nats.Conn
	stop func() // cancels its context and waits for Run to return
}

// join starts a worker named id with the memory budget (0: default).
func (c *cluster) join(t testing.TB, id string, budgetMB int) *member {
	t.Helper()
	nc, err := nats.Connect(c.bus.URL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tel := telemetry.NewPublisher(nc, 10000, c.logger)
	w, err := worker.New(ctx, worker.Options{
		ID: id, NC: nc, JS: js, Fns: c.fns, Runtimes: c.rts, Telemetry: tel, CodeDir: t.TempDir(),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Prestart: map[string]int{},
		MemoryBudgetMB: budgetMB, Logger: c.logger.With("member", id),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = tel.Run(ctx); done <- struct{}{} }()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	stop := sync.OnceFunc(func() {
		cancel()
		<-done
		<-done
		nc.Close()
	})
	t.Cleanup(stop)
	return &member{w: w, nc: nc, stop: stop}
}

// sleeper appends "id start end" per invocation to the file log names, then sleeps.
const sleeper = `
import os, time
def handler(event, context):
    start = time.time()
    time.sleep(float(os.environ.get("SLEEP", "0.3")))
    with open(os.environ["LOG"], "a") as f:
        f.write("%s %f %f\n" % (context.aws_request_id, start, time.time()))
    return "ok"
`

// invocation is one run of the sleeper as the function saw it.
type invocation struct {
	id         string
	start, end float64
}

func ranInvocations(t testing.TB, path string) []invocation {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []invocation
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) != 3 {
			continue
		}
		a, _ := strconv.ParseFloat(fs[1], 64)
		b, _ := strconv.ParseFloat(fs[2], 64)
		out = append(out, invocation{fs[0], a, b})
	}
	return out
}

// overlap is the most invocations that ran at one moment.
func overlap(runs []invocation) int {
	type edge struct {
		at float64
		d  int
	}
	var es []edge
	for _, r := range runs {
		es = append(es, edge{r.start, 1}, edge{r.end, -1})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].at < es[j].at || es[i].at == es[j].at && es[i].d < es[j].d })
	n, peak := 0, 0
	for _, e := range es {
		n += e.d
		peak = max(peak, n)
	}
	return peak
}

// instances sums the instances of fn the members report now.
func instances(fn string, ms ...*member) (n, memory int) {
	for _, m := range ms {
		b := m.w.Beat()
		n += b.Instances[fn]
		memory = max(memory, b.MemoryUsedMB)
	}
	return n, memory
}

// watch polls the members' instances of fn until stopped and returns the peak seen.
func watch(fn string, ms ...*member) (stop func() int) {
	done, out := make(chan struct{}), make(chan int, 1)
	go func() {
		peak := 0
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			n, _ := instances(fn, ms...)
			peak = max(peak, n)
			select {
			case <-done:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int { close(done); return <-out }
}

// burst publishes n async invocations and returns their ids.
func (c *cluster) burst(t testing.TB, v events.Version, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := c.gw.Async(context.Background(), gateway.Call{Version: v, Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// succeeded waits until every id has succeeded in sluice_results.
func (c *cluster) succeeded(t testing.TB, ids []string, within time.Duration) {
	t.Helper()
	testkit.Eventually(t, within, func() error {
		missing := 0
		for _, id := range ids {
			r, err := c.gw.Result(context.Background(), id)
			if err != nil || r.Status != events.StatusSucceeded {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d invocations not succeeded", missing, len(ids))
		}
		return nil
	})
}

func deploySleeper(t testing.TB, c *cluster, name string, cfg events.Config) (events.Version, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "runs")
	cfg.Env = map[string]string{"LOG": log, "SLEEP": "0.3"}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 128
	}
	cfg.Timeout = events.Duration(10 * time.Second)
	return c.deploy(t, name, sleeper, cfg), log
}

func TestTwoWorkersShareMax(t *testing.T) {
	c := startCluster(t)
	a, b := c.join(t, "wa", 0), c.join(t, "wb", 0)
	v, log := deploySleeper(t, c, "share", events.Config{Max: 3, IdleTimeout: events.Duration(2 * time.Second)})
	peak := watch("share", a, b)
	ids := c.burst(t, v, 30)
	c.succeeded(t, ids, 30*time.Second)
	if p := peak(); p > 3 || p == 0 {
		t.Fatalf("peak instances over both workers %d, want 1..3", p)
	}
	runs := ranInvocations(t, log)
	seen := map[string]int{}
	for _, r := range runs {
		seen[r.id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("invocation %s ran %d times, want once", id, seen[id])
		}
	}
	if len(runs) != 30 {
		t.Fatalf("%d runs, want 30", len(runs))
	}
	if o := overlap(runs); o > 3 {
		t.Fatalf("%d invocations ran at once, want at most 3", o)
	}
	if ba, bb := a.w.Beat().Instances["share"], b.w.Beat().Instances["share"]; ba == 0 || bb == 0 {
		t.Logf("one worker took the whole burst: %d and %d instances", ba, bb)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if n, _ := instances("share", a, b); n != 0 {
			return fmt.Errorf("%d instances left after the idle timeout", n)
		}
		return nil
	})
	claims, err := c.bus.JS.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		keys, _ := claims.ListKeys(context.Background())
		var held []string
		for k := range keys.Keys() {
			held = append(held, k)
		}
		if len(held) > 0 {
			return fmt.Errorf("claims still held: %v", held)
		}
		return nil
	})
	beats, err := c.bus.JS.KeyValue(context.Background(), events.BucketWorkers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := beats.Get(context.Background(), "wa"); err != nil {
		t.Fatalf("heartbeat of wa: %v", err)
	}
	a.stop()
	if _, err := beats.Get(context.Background(), "wa"); err == nil {
		t.Fatal("heartbeat of wa still there after a graceful stop")
	}
}

func TestDeadWorkersSlotsAreTakenOver(t *testing.T) {
	c := startCluster(t)
	// The doomed worker is alone when the burst comes, so it wins the slots; the survivor joins
	// while it holds them and can only take over once they expire.
	doomed := c.join(t, "doomed", 0)
	v, log := deploySleeper(t, c, "takeover", events.Config{Max: 2, Retries: 5})
	ids := c.burst(t, v, 16)
	testkit.Eventually(t, 20*time.Second, func() error {
		if doomed.w.Beat().Instances["takeover"] == 0 {
			return fmt.Errorf("doomed worker runs nothing yet")
		}
		return nil
	})
	a := c.join(t, "survivor", 0)
	// Dies: its connection goes, so it can neither ack, refresh its claims nor beat.
	doomed.nc.Close()
	go doomed.stop()
	peak := watch("takeover", a)
	c.succeeded(t, ids, 60*time.Second)
	if p := peak(); p > 2 {
		t.Fatalf("survivor ran %d instances, want at most 2", p)
	}
	seen := map[string]bool{}
	for _, r := range ranInvocations(t, log) {
		seen[r.id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("invocation %s never ran", id)
		}
	}
}

func TestMemoryBudgetRefusesWhatDoesNotFit(t *testing.T) {
	c := startCluster(t)
	small := c.join(t, "small", 300)
	v, log := deploySleeper(t, c, "fits", events.Config{Max: 3, MemoryMB: 256})
	ids := c.burst(t, v, 4)
	stop := watch("fits", small)
	c.succeeded(t, ids, 20*time.Second)
	if p := stop(); p != 1 {
		t.Fatalf("peak %d instances of 256 MB in a 300 MB budget, want 1", p)
	}
	if o := overlap(ranInvocations(t, log)); o != 1 {
		t.Fatalf("%d ran at once, want 1", o)
	}
	if _, mem := instances("fits", small); mem > 300 {
		t.Fatalf("%d MB used of 300", mem)
	}

	big, _ := deploySleeper(t, c, "big", events.Config{Max: 3, MemoryMB: 512})
	id := c.burst(t, big, 1)
	time.Sleep(time.Second) // nothing to poll for: the point is that nothing happens
	if r, err := c.gw.Result(context.Background(), id[0]); err == nil && r.Status == events.StatusSucceeded {
		t.Fatal("a 512 MB instance ran on a 300 MB worker")
	}
	if n, _ := instances("big", small); n != 0 {
		t.Fatalf("%d instances of a function that does not fit", n)
	}
	c.join(t, "large", 1024)
	c.succeeded(t, id, 20*time.Second)
}

// A worker whose budget idle instances fill stops the least recently used of them for another
// function's event, instead of turning it away until their idle timeout.
func TestIdleInstancesOfOtherFunctionsMakeRoom(t *testing.T) {
	c := startCluster(t)
	small := c.join(t, "small", 300)
	first, _ := deploySleeper(t, c, "first", events.Config{Max: 1, MemoryMB: 256, IdleTimeout: events.Duration(time.Hour)})
	c.succeeded(t, c.burst(t, first, 1), 20*time.Second)
	if n, mem := instances("first", small); n != 1 || mem != 256 {
		t.Fatalf("first: %d instances, %d MB, want its idle instance of 256 MB", n, mem)
	}
	second, _ := deploySleeper(t, c, "second", events.Config{Max: 1, MemoryMB: 256, IdleTimeout: events.Duration(time.Hour)})
	c.succeeded(t, c.burst(t, second, 1), 20*time.Second) // long before first's idle hour
	if n, _ := instances("first", small); n != 0 {
		t.Fatalf("first still has %d instances; its idle one should have made room", n)
	}
	if n, mem := instances("second", small); n != 1 || mem != 256 {
		t.Fatalf("second: %d instances, %d MB, want 1 of 256 MB", n, mem)
	}
}
