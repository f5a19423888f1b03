package worker

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// stopsOnWrite is the claims bucket of a worker told to stop while a write is under way.
type stopsOnWrite struct {
	jetstream.KeyValue
	stop context.CancelFunc
}

func (s stopsOnWrite) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	s.stop()
	return s.KeyValue.Update(ctx, key, value, last)
}

// A refresh under way as the worker stops must still learn its outcome, or the slot's release at
// stop names a revision the bucket no longer has and the slot stays taken until its TTL. A
// stopping worker takes no new slot.
func TestAClaimWriteBegunAsTheWorkerStopsRunsToItsAnswer(t *testing.T) {
	bus := bustest.Start(t)
	kv, err := bus.JS.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	c := &claims{kv: kv, id: "w", budget: 1024, held: map[string]claim{}, logger: slog.New(slog.DiscardHandler)}
	key, err := c.take(context.Background(), "f", 2, 128)
	if err != nil {
		t.Fatal(err)
	}
	before, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	stopping, stop := context.WithCancel(context.Background())
	c.kv = stopsOnWrite{KeyValue: kv, stop: stop}
	c.refresh(stopping)
	after, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision() == before.Revision() || c.held[key].revision != after.Revision() {
		t.Fatalf("refresh cancelled under way: bucket at revision %d (was %d), worker holds %d", after.Revision(), before.Revision(), c.held[key].revision)
	}
	if _, err := c.take(stopping, "f", 2, 128); !errors.Is(err, context.Canceled) {
		t.Fatalf("take while stopping: %v, want %v", err, context.Canceled)
	}
	if used, _ := c.usage(); used != 128 {
		t.Fatalf("memory held after a refused take: %d MB, want 128", used)
	}
	c.releaseAll()
	if _, err := kv.Get(context.Background(), key); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("slot after release: %v, want none", err)
	}
}
