package events_test

import (
	"context"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// A bucket whose configuration is already what Ensure wants is left alone (an update through
// nats.go would turn its stream's direct gets back on), and a changed setting is applied.
func TestEnsureLeavesCurrentBucketsAlone(t *testing.T) {
	bus := bustest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Mark every bucket's stream: direct gets off, which no Ensure of one replica does itself.
	for _, c := range events.KeyValueConfigs(events.BusOptions{}) {
		s, err := bus.JS.Stream(ctx, "KV_"+c.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.AllowDirect = false
		if _, err := bus.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := events.Ensure(ctx, bus.JS, events.BusOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range events.KeyValueConfigs(events.BusOptions{}) {
		s, err := bus.JS.Stream(ctx, "KV_"+c.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if s.CachedInfo().Config.AllowDirect {
			t.Errorf("%s: updated by an Ensure that had nothing to change", c.Bucket)
		}
	}

	if err := events.Ensure(ctx, bus.JS, events.BusOptions{ClaimTTL: 42 * time.Second}); err != nil {
		t.Fatal(err)
	}
	kv, err := bus.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.TTL() != 42*time.Second {
		t.Fatalf("claims TTL after Ensure with 42s: %v %v", st, err)
	}
}
