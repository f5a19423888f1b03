package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
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
	if out := p.expired(now); len(out) != 0 {
		t.Fatalf("without a scaler, %d instances idle for %s stopped; the idle timeout is a minute", len(out), 2*scaleDownGrace)
	}
	p.setDesired(1, false)
	out := p.expired(now)
	if len(out) != 2 || !(out[0] == xs[1] || out[0] == xs[2]) || !(out[1] == xs[1] || out[1] == xs[2]) {
		t.Fatalf("desired 1: stopped %d instances, want those under slots 1 and 2", len(out))
	}
	if n, _ := p.instances(); n != 1 {
		t.Fatalf("%d instances left, want 1", n)
	}
	p.setDesired(0, false)
	if out := p.expired(now); len(out) != 1 || out[0] != xs[0] {
		t.Fatalf("desired 0: stopped %d instances, want the last one", len(out))
	}
}

// Min instances stay whatever the scaler's count.
func TestMinInstancesOutliveTheDesiredCount(t *testing.T) {
	p := testPool(1)
	now := time.Now()
	idleInstances(t, p, 2, now.Add(-2*scaleDownGrace))
	p.setDesired(0, false)
	if out := p.expired(now); len(out) != 1 {
		t.Fatalf("desired 0, min 1: stopped %d of 2 instances, want 1", len(out))
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
		pools: map[string]*running{"f": {pool: p}}}
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
		bustest.Eventually(t, 10*time.Second, func() error {
			if d, l := desired(); d != want || l != lag {
				return fmt.Errorf("pool desired %d lag %v, want %d %v", d, l, want, lag)
			}
			return nil
		})
	}
	if _, err := scale.Put(ctx, events.ScaleKey("f"), []byte(`{"function":"f","lag":7,"desired":4,"reason":"lag"}`)); err != nil {
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
	// The lease is not refreshed: it expires with the bucket's TTL, and the decisions are stale.
	expect(-1, false)
}
