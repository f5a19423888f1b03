package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
)

// idleInstances starts n real Python instances and adds them to p, idle since idleSince, under
// the slots claim.f.0, claim.f.1, ...
func idleInstances(t *testing.T, p *pool, n int, idleSince time.Time) []*warm {
	t.Helper()
	cat := catalog.New(catalog.Options{})
	t.Cleanup(func() { _ = cat.Close() })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("def handler(e, c):\n    return e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []*warm
	for i := range n {
		inst, err := instance.Start(context.Background(), cat, instance.Config{
			ID: "i" + string(rune('0'+i)), Function: "f", Version: 1, Runtime: "python", Handler: "main.handler", CodeDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Close() })
		x := p.starting(1, events.ClaimKey("f", i))
		p.started(x, inst, startScratch, "")
		p.mu.Lock()
		x.lastUsed = idleSince
		p.mu.Unlock()
		out = append(out, x)
	}
	return out
}

func testPool(min int) *pool {
	return newPool(events.Version{Function: "f", Version: 1, Config: events.Config{
		Runtime: "python", Handler: "main.handler", Max: 5, Min: min, Concurrency: 1,
		IdleTimeout: events.Duration(time.Minute)}})
}

// While a scaler acts, idle instances under slots at or above its desired count stop after the
// grace, long before the function's idle timeout; without a scaler they wait for the timeout.
func TestIdleInstancesAboveTheDesiredCountStop(t *testing.T) {
	p := testPool(0)
	now := time.Now()
	xs := idleInstances(t, p, 3, now.Add(-2*scaleDownGrace))
	if out, above := p.expired(now); len(out)+len(above) != 0 {
		t.Fatalf("without a scaler, %d instances idle for %s stopped; the idle timeout is a minute", len(out)+len(above), 2*scaleDownGrace)
	}
	p.setDesired(1, false)
	out, above := p.expired(now)
	if len(out) != 0 || len(above) != 2 || !(above[0] == xs[1] || above[0] == xs[2]) || !(above[1] == xs[1] || above[1] == xs[2]) {
		t.Fatalf("desired 1: %d stopped, %d above, want those under slots 1 and 2 above", len(out), len(above))
	}
	for _, x := range above {
		if !p.removeIdle(x) {
			t.Fatal("an idle instance above the desired count could not be removed")
		}
	}
	if n, _ := p.instances(); n != 1 {
		t.Fatalf("%d instances left, want 1", n)
	}
	p.setDesired(0, false)
	if _, above := p.expired(now); len(above) != 1 || above[0] != xs[0] {
		t.Fatalf("desired 0: %d above, want the last one", len(above))
	}
}

// A heartbeat counts as active the instances busy or used within the window: the scaler's only
// view of calls that never wait on the consumer.
func TestActivityCountsRecentlyUsedInstances(t *testing.T) {
	p := testPool(0)
	now := time.Now()
	xs := idleInstances(t, p, 3, now.Add(-2*activeWindow))
	p.mu.Lock()
	xs[0].running++
	xs[1].running++
	p.mu.Unlock()
	if idle, _ := p.done(xs[1], true); !idle {
		t.Fatal("an instance with no invocation left is not idle")
	}
	n, busy, active := p.activity(now.Add(-activeWindow))
	if n != 3 || busy != 1 || active != 2 {
		t.Fatalf("activity = %d instances, %d busy, %d active; want 3, 1 (running), 2 (running and just used)", n, busy, active)
	}
}

// Min instances stay whatever the scaler's count.
func TestMinInstancesOutliveTheDesiredCount(t *testing.T) {
	p := testPool(1)
	now := time.Now()
	idleInstances(t, p, 2, now.Add(-2*scaleDownGrace))
	p.setDesired(0, false)
	if _, above := p.expired(now); len(above) != 1 {
		t.Fatalf("desired 0, min 1: %d of 2 instances above, want 1", len(above))
	}
}

// The instances to start: min's, or, while a scaler acts and events wait, up to its desired
// count under slots below it.
func TestMissingFollowsTheDesiredCountWhileEventsWait(t *testing.T) {
	p := testPool(1)
	now := time.Now()
	if _, n, below := p.missing(now); n != 1 || below != 5 {
		t.Fatalf("no scaler: %d to start below %d, want min 1 below max 5", n, below)
	}
	p.setDesired(3, false)
	if _, n, _ := p.missing(now); n != 1 {
		t.Fatalf("desired 3 without lag: %d to start, want min 1", n)
	}
	p.setDesired(3, true)
	if _, n, below := p.missing(now); n != 3 || below != 3 {
		t.Fatalf("desired 3 with lag: %d to start below %d, want 3 below 3", n, below)
	}
	p.setDesired(9, true)
	if _, _, below := p.missing(now); below != 5 {
		t.Fatalf("desired 9 beyond max 5: slots below %d, want 5", below)
	}
	p.provisionFailed(now, time.Minute)
	if _, n, _ := p.missing(now); n != 0 {
		t.Fatalf("after a failed start: %d to start, want 0", n)
	}
}

// A worker follows the decisions in sluice_scale while the scaler lease is held, and ignores
// them (desired -1) once no scaler holds it.
func TestWorkerFollowsDecisionsWhileAScalerHoldsTheLease(t *testing.T) {
	bus := bustest.StartWith(t, events.BusOptions{ClaimTTL: 3 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	claimsKV, err := bus.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	scale, err := bus.JS.KeyValue(ctx, events.BucketScale)
	if err != nil {
		t.Fatal(err)
	}
	p := testPool(0)
	w := &Worker{js: bus.JS, claims: &claims{kv: claimsKV}, logger: slog.New(slog.DiscardHandler),
		instances: &instances{pools: map[string]*pool{"f": p}}}
	done := make(chan struct{})
	go func() { defer close(done); w.followScaler(ctx) }()
	defer func() { cancel(); <-done }()
	desired := func() (int, bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.desired, p.lag
	}
	expect := func(want int, lag bool) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, func() error {
			if d, l := desired(); d != want || l != lag {
				return fmt.Errorf("pool desired %d lag %v, want %d %v", d, l, want, lag)
			}
			return nil
		})
	}
	if _, err := scale.Put(ctx, events.ScaleKey("f"), []byte(`{"function":"f","lag":7,"desired":4,"reason":"lag","running":1}`)); err != nil {
		t.Fatal(err)
	}
	expect(-1, false) // a decision, but no scaler acts
	if _, err := claimsKV.Create(ctx, events.ScalerLeaseKey, []byte("scaler-1")); err != nil {
		t.Fatal(err)
	}
	expect(4, true)
	if _, err := scale.Put(ctx, events.ScaleKey("f"), []byte(`{"function":"f","lag":0,"desired":2,"reason":"idle"}`)); err != nil {
		t.Fatal(err)
	}
	expect(2, false)
	if _, err := scale.Put(ctx, events.ScaleKey("f"), []byte(`{"function":"f","lag":9,"desired":3,"reason":"max","running":3}`)); err != nil {
		t.Fatal(err)
	}
	expect(3, false) // events wait, but the desired count runs already
	// The lease is not refreshed: it expires with the bucket's TTL, and the decisions are stale.
	expect(-1, false)
}

// An idle instance under a slot at or above the desired count moves to a free slot below it
// (slots are won first-free, so they scatter), and stops once every slot below is held.
func TestInstancesAboveTheDesiredCountMoveDownOrStop(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	s := &instances{claims: &claims{kv: kv, id: "me", budget: 1024, held: map[string]claim{}, logger: slog.New(slog.DiscardHandler)}}
	for _, i := range []int{1, 2} { // held by another worker
		if _, err := kv.Create(ctx, events.ClaimKey("f", i), []byte("other")); err != nil {
			t.Fatal(err)
		}
	}
	p := testPool(0)
	now := time.Now()
	xs := idleInstances(t, p, 2, now.Add(-2*scaleDownGrace))
	for i, x := range xs { // under slots this worker wins: 0, then 3
		key, err := s.claims.take(ctx, "f", 5, 128)
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		x.claim = key
		p.mu.Unlock()
		if want := events.ClaimKey("f", []int{0, 3}[i]); key != want {
			t.Fatalf("won %s, want %s", key, want)
		}
	}
	held := func() []string {
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range keys.Keys() {
			if e, err := kv.Get(ctx, k); err == nil && string(e.Value()) == "me" {
				out = append(out, k)
			}
		}
		return out
	}

	// The other worker gives slot 1 back: the instance under slot 3 moves there.
	if err := kv.Delete(ctx, events.ClaimKey("f", 1)); err != nil {
		t.Fatal(err)
	}
	p.setDesired(2, false)
	_, above := p.expired(now)
	s.settleAbove(ctx, p, above)
	if n, _ := p.instances(); n != 2 {
		t.Fatalf("%d instances after the move, want 2", n)
	}
	if got := held(); len(got) != 2 || !slices.Contains(got, events.ClaimKey("f", 0)) || !slices.Contains(got, events.ClaimKey("f", 1)) {
		t.Fatalf("slots held %v, want f.0 and f.1", got)
	}

	// Desired 1: slot 0 is held (by this worker's other instance), so the one under slot 1 stops.
	p.setDesired(1, false)
	_, above = p.expired(now)
	s.settleAbove(ctx, p, above)
	if n, _ := p.instances(); n != 1 {
		t.Fatalf("%d instances, want 1", n)
	}
	if got := held(); len(got) != 1 || got[0] != events.ClaimKey("f", 0) {
		t.Fatalf("slots held %v, want f.0", got)
	}
}

// A direct call takes free room only while no delivered event waits for it: the event is owed
// the next free room.
func TestDirectCallsYieldToAWaitingEvent(t *testing.T) {
	p := newPool(events.Version{Function: "f", Version: 1, Config: events.Config{Max: 2}})
	p.addSpare("claim.f.0")
	done := p.awaitRoom()
	if p.tryAcquireDirect(false) {
		t.Fatal("a direct call took the room a delivered event waits for")
	}
	if ok, _, _ := p.tryAcquire(false); !ok {
		t.Fatal("the waiting event found no room")
	}
	done()
	p.release()
	if !p.tryAcquireDirect(false) {
		t.Fatal("a direct call found no room with none waiting and a slot free")
	}
	if p.tryAcquireDirect(false) {
		t.Fatal("a second direct call took room beyond the one slot held")
	}
}

// With no slot held, a call in the gateway's process takes the probe as a delivered event would,
// when probing is allowed and no delivered event waits for room.
func TestDirectCallsTakeTheProbeAsEventsDo(t *testing.T) {
	p := newPool(events.Version{Function: "f", Version: 1, Config: events.Config{Max: 1}})
	if p.tryAcquireDirect(false) {
		t.Fatal("a call took room with no slot held and probing not allowed")
	}
	done := p.awaitRoom()
	if p.tryAcquireDirect(true) {
		t.Fatal("a call took the probe a delivered event waits for")
	}
	done()
	if !p.tryAcquireDirect(true) {
		t.Fatal("a call found the probe taken with nothing held or running")
	}
	if p.tryAcquireDirect(true) {
		t.Fatal("a second call took the probe while the first holds it")
	}
}
