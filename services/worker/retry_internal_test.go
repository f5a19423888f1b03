package worker

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
)

// A write that fails for want of the bus is tried past writeTries, until it succeeds; one the
// bus refuses for what it is stops at writeTries.
func TestRetryWaitsForTheBusOnly(t *testing.T) {
	calls := 0
	err := retry(context.Background(), writeTries, func() error {
		if calls++; calls < writeTries+2 {
			return nats.ErrNoResponders // a stream electing a leader
		}
		return nil
	})
	if err != nil || calls != writeTries+2 {
		t.Fatalf("transient failures: %v after %d tries, want success after %d", err, calls, writeTries+2)
	}
	refused := errors.New("message size exceeds maximum allowed")
	calls = 0
	if err := retry(context.Background(), writeTries, func() error { calls++; return refused }); !errors.Is(err, refused) || calls != writeTries {
		t.Fatalf("refusals: %v after %d tries, want the refusal after %d", err, calls, writeTries)
	}
}
