package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events/bustest"
)

// clusterToken is the API token of the cluster's gateways.
const clusterToken = "cluster-e2e-token"

// cluster is sluice deployed as separate roles on a 3-node NATS cluster, as compose/ deploys it:
// two gateways, three workers, a scaler and the adapters, every one with --replicas 3.
type cluster struct {
	nats     *natsCluster
	gateways []*sluiceRole
	workers  []*sluiceRole
	scaler   *sluiceRole
	adapters *sluiceRole
	api      *node // the CLI and HTTP helpers, pointed at the first gateway
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	s := newSite(t)
	c := &cluster{nats: startNATSCluster(t, 3)}
	common := []string{"--nats", c.nats.urls(), "--replicas", "3", "--isolation", "off"}
	flags := func(extra ...string) []string { return append(append([]string{}, common...), extra...) }
	for i := range 2 {
		c.gateways = append(c.gateways, serveRole(t, s, "gateway", fmt.Sprintf("gateway-%d", i+1), flags("--listen", freeAddr(t), "--token", clusterToken)...))
	}
	for i := range 3 {
		c.workers = append(c.workers, serveRole(t, s, "worker", fmt.Sprintf("worker-%d", i+1), flags("--memory-budget", "1024")...))
	}
	c.scaler = serveRole(t, s, "scaler", "scaler", flags()...)
	c.adapters = serveRole(t, s, "adapters", "adapters", flags()...)
	c.api = &node{site: s, URL: c.gateways[0].url, Token: clusterToken, http: &http.Client{Timeout: cliDeadline}}
	c.checkReplicas(t)
	// A role started without --replicas keeps the bus's 3.
	extra := serveRole(t, s, "adapters", "adapters-without-replicas", "--nats", c.nats.urls(), "--isolation", "off")
	extra.kill()
	c.checkReplicas(t)
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		if ids := workerIDs(t, c.api); len(ids) != 3 {
			return fmt.Errorf("live workers %v, want 3", ids)
		}
		return nil
	})
	return c
}

// Every role of sluice as its own process on a 3-node NATS JetStream cluster with R3 streams,
// under a mixed load (synchronous calls, async invocations, a JetStream queue trigger, a cron
// trigger firing every second). While the load runs, one NATS node is killed with SIGKILL, and
// while it is down one worker, the scaler and one gateway are killed and started again, then the
// node comes back: every accepted async invocation and
// every queue message still reaches its function (a few more than once, after a crash), and the
// synchronous calls that fail say why instead of hanging. Then every role is restarted in turn
// with SIGTERM under the same load: nothing is lost, nothing runs twice and every synchronous
// call is answered (a call that cannot reach a stopping gateway goes to the other one). Last,
// the NATS nodes are restarted in turn: nothing accepted is lost.
func TestClusterSurvivesKillsAndRollingRestart(t *testing.T) {
	c := startCluster(t)
	runs := startCounter(t)

	// The queue trigger's source: a JetStream stream on a broker of its own.
	ext := bustest.RunServer(t)
	_, extJS := natsClient(t, ext.ClientURL())
	if _, err := extJS.CreateStream(t.Context(), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}

	// The async jobs take a moment, so that a worker killed under load is killed mid-invocation.
	for _, f := range []struct{ name, kind, sleep string }{{"echo", "sync", "0"}, {"jobs", "async", "0.25"}, {"orders", "queue", "0"}, {"clock", "cron", "0"}} {
		deployInline(t, c.api, f.name, counterPy, "--env", "KIND="+f.kind, "--env", "SLEEP="+f.sleep, "--env", "COUNTER="+runs.url,
			"--timeout", "5s", "--max", "6", "--retries", "5")
	}
	c.api.ok(t, "trigger", "add", "orders", "--queue", "jetstream://"+strings.TrimPrefix(ext.ClientURL(), "nats://")+"/ORDERS", "--id", "orders")
	c.api.ok(t, "trigger", "add", "clock", "--cron", "@every 1s", "--id", "clock")

	// Kills under load.
	ld := startLoad(t, c.gateways, clusterToken, false, extJS, 0)
	runs.waitGrowth(t, "async", 20, "before the kills")
	// A NATS node goes first and stays down while the roles are killed: they start again on a
	// cluster short of a node.
	c.nats.nodes[2].kill()
	runs.waitGrowth(t, "async", 20, "nats node 3 killed")
	for _, victim := range []*sluiceRole{c.workers[0], c.scaler, c.gateways[0]} {
		victim.kill()
		runs.waitGrowth(t, "async", 30, victim.name+" killed")
		victim.restart(t)
	}
	c.nats.nodes[2].start(t)
	c.nats.waitJetStream(t)
	runs.waitGrowth(t, "async", 20, "after the kills")
	cronBefore := runs.total("cron")
	ld.end()
	phase1 := accountFor(t, runs, ld, "kills")
	if len(ld.syncHung) > 0 {
		t.Errorf("%d synchronous calls hung (no answer within %s):\n%s", len(ld.syncHung), syncDeadline, summary(ld.syncHung))
	}
	if u := ld.unclear(); len(u) > 0 {
		t.Errorf("%d synchronous calls failed without a clear error:\n%s", len(u), summary(u))
	}
	if ld.syncOK == 0 {
		t.Error("no synchronous call succeeded")
	}
	t.Logf("kills: %d sync calls answered, %d failed:\n%s", ld.syncOK, len(ld.syncFailed), summary(ld.syncFailed))
	t.Logf("kills: %d async invocations not accepted:\n%s", len(ld.refused), summary(ld.refused))

	// Rolling restart under load.
	ld = startLoad(t, c.gateways, clusterToken, true, extJS, 1_000_000)
	runs.waitGrowth(t, "async", 10, "before the rolling restart")
	roles := append(append(append([]*sluiceRole{}, c.gateways...), c.workers...), c.scaler, c.adapters)
	for _, r := range roles {
		r.term(t)
		r.restart(t)
		runs.waitGrowth(t, "async", 10, r.name+" restarted")
	}
	ld.end()
	phase2 := accountFor(t, runs, ld, "rolling restart")
	if phase2.asyncDup > 0 || phase2.queueDup > 0 {
		t.Errorf("rolling restart: %d async invocations and %d queue messages ran more than once", phase2.asyncDup, phase2.queueDup)
	}
	if len(ld.syncFailed)+len(ld.syncHung) > 0 || len(ld.refused) > 0 {
		t.Errorf("rolling restart dropped calls: %d sync failed, %d hung, %d async refused:\n%s\n%s\n%s",
			len(ld.syncFailed), len(ld.syncHung), len(ld.refused), summary(ld.syncFailed), summary(ld.syncHung), summary(ld.refused))
	}
	if ld.syncOK == 0 {
		t.Error("rolling restart: no synchronous call succeeded")
	}
	rollingSync := ld.syncOK

	// The NATS nodes restarted in turn (SIGTERM: a clean shutdown; their clients move to the
	// other nodes). A call caught on a connection that is moving is refused with a clear error
	// (503) and the caller may retry it; nothing accepted is lost.
	ld = startLoad(t, c.gateways, clusterToken, true, extJS, 2_000_000)
	for _, n := range c.nats.nodes {
		n.term(t)
		n.start(t)
		c.nats.waitJetStream(t)
		runs.waitGrowth(t, "async", 10, n.name+" restarted")
	}
	ld.end()
	phase3 := accountFor(t, runs, ld, "nats rolling restart")
	if len(ld.syncHung) > 0 {
		t.Errorf("nats rolling restart: %d synchronous calls hung:\n%s", len(ld.syncHung), summary(ld.syncHung))
	}
	if u := ld.unclear(); len(u) > 0 {
		t.Errorf("nats rolling restart: %d synchronous calls failed without a clear error:\n%s", len(u), summary(u))
	}
	t.Logf("nats rolling restart: %d async, %d queue messages, %d sync calls answered; %d sync calls and %d async invocations refused:\n%s\n%s",
		phase3.async, phase3.queue, ld.syncOK, len(ld.syncFailed), len(ld.refused), summary(ld.syncFailed), summary(ld.refused))

	// Cron fired through both phases, each tick at most once per scheduled time but after a
	// crash (its event id is the trigger and the time: the bus absorbs a second firing).
	ticks, tickDup := runs.distinct("cron")
	if runs.total("cron") <= cronBefore || ticks < 10 {
		t.Errorf("cron: %d ticks in all, %d by the end of the kills", ticks, cronBefore)
	}
	if tickDup > phase1.asyncDup+phase1.queueDup+2 {
		t.Errorf("cron: %d of %d ticks ran more than once", tickDup, ticks)
	}
	t.Logf("kills: %d async (%d twice), %d queue messages (%d twice); rolling restart: %d async, %d queue messages, %d sync calls; cron: %d ticks (%d twice)",
		phase1.async, phase1.asyncDup, phase1.queue, phase1.queueDup, phase2.async, phase2.queue, rollingSync, ticks, tickDup)
}

// accounting is what a phase's load became.
type accounting struct {
	async, asyncDup, queue, queueDup int
}

// accountFor waits until every async invocation the gateways accepted and every message stored
// on the queue's stream ran, then counts those that ran more than once. Duplicates are allowed
// only as the price of a crash: at most a tenth of the events.
func accountFor(t *testing.T, runs *counter, ld *load, phase string) accounting {
	t.Helper()
	if ld.publishError != nil {
		t.Fatalf("%s: publishing to the queue's stream failed: %v", phase, ld.publishError)
	}
	if len(ld.accepted) == 0 || len(ld.published) == 0 {
		t.Fatalf("%s: no load: %d async accepted, %d queue messages", phase, len(ld.accepted), len(ld.published))
	}
	// A worker killed mid-invocation leaves its events to be redelivered after the ack wait (30 s).
	testkit.EventuallyEvery(t, 150*time.Second, 500*time.Millisecond, func() error {
		var missing []string
		for _, id := range ld.accepted {
			if runs.of("async", id) == 0 {
				missing = append(missing, id)
			}
		}
		lost := 0
		for _, n := range ld.published {
			if runs.of("queue", fmt.Sprint(n)) == 0 {
				lost++
			}
		}
		if len(missing)+lost > 0 {
			return fmt.Errorf("%s: %d of %d accepted async invocations (e.g. %v) and %d of %d queue messages have not run",
				phase, len(missing), len(ld.accepted), missing[:min(3, len(missing))], lost, len(ld.published))
		}
		return nil
	})
	a := accounting{async: len(ld.accepted), queue: len(ld.published)}
	for _, id := range ld.accepted {
		if runs.of("async", id) > 1 {
			a.asyncDup++
		}
	}
	for _, n := range ld.published {
		if runs.of("queue", fmt.Sprint(n)) > 1 {
			a.queueDup++
		}
	}
	if a.asyncDup*10 > a.async || a.queueDup*10 > a.queue {
		t.Errorf("%s: too many ran twice: %d of %d async, %d of %d queue messages", phase, a.asyncDup, a.async, a.queueDup, a.queue)
	}
	return a
}

// checkReplicas requires every stream of the bus (buckets and the object store included) to have
// 3 replicas, and the buckets and object store to be read from their leader only, so that what
// one role wrote another reads back at once.
func (c *cluster) checkReplicas(t *testing.T) {
	t.Helper()
	_, js := natsClient(t, c.nats.urls())
	seen := 0
	names := js.StreamNames(t.Context())
	for name := range names.Name() {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Replicas != 3 {
			t.Errorf("stream %s: %d replicas, want 3", name, cfg.Replicas)
		}
		if (strings.HasPrefix(name, "KV_") || strings.HasPrefix(name, "OBJ_")) && cfg.AllowDirect {
			t.Errorf("stream %s: direct gets let a lagging replica answer reads", name)
		}
		seen++
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Errorf("only %d streams on the bus", seen)
	}
}
