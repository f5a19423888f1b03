package scaler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// A scaler stopping in the middle of a lease write must still learn its outcome: a refresh the
// server applied with its answer dropped would leave the key behind, held by nobody, until the TTL.
func TestALeaseWriteBegunAsTheHolderStopsIsGivenUp(t *testing.T) {
	bus := bustest.StartWith(t, events.BusOptions{ClaimTTL: time.Minute})
	claims, err := bus.JS.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	l := lease{kv: claims, key: events.ScalerLeaseKey, holder: "a"}
	stopping, stop := context.WithCancel(context.Background())
	stop()

	if ok, err := l.take(stopping); !ok || err != nil {
		t.Fatalf("take on a cancelled context = %v, %v; want the lease", ok, err)
	}
	if err := l.refresh(stopping); err != nil {
		t.Fatalf("refresh on a cancelled context: %v", err)
	}
	if err := l.release(stopping); err != nil {
		t.Fatalf("release on a cancelled context: %v", err)
	}
	if _, err := claims.Get(context.Background(), events.ScalerLeaseKey); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("lease after release: %v, want none", err)
	}
}
