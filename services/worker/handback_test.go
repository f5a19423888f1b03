package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// failsOnce fails the first run of each event and succeeds on the next.
const failsOnce = `
import os
def handler(event, context):
    mark = os.path.join(os.environ["DIR"], context.aws_request_id)
    if not os.path.exists(mark):
        open(mark, "w").close()
        raise RuntimeError("first run")
    return "second run"
`

// An event the worker hands back because every instance slot is held elsewhere does not spend
// a retry: with one retry allowed, an event that fails once still succeeds, on its second run
// after at least one delivery that ran nothing.
func TestHandedBackEventsSpendNoRetry(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	claimElsewhere(t, c.bus.JS, "once") // until the claim's TTL frees it
	v := c.deploy(t, "once", failsOnce, events.Config{Max: 1, Retries: 1,
		Env: map[string]string{"DIR": t.TempDir()}})
	c.join(t, "solo", 0)
	ids := c.burst(t, v, 1)
	c.succeeded(t, ids, 30*time.Second)
	r, err := c.gw.Result(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempts != 2 {
		t.Fatalf("attempts %d, want 2 (one failed run, one good)", r.Attempts)
	}
}

// claimElsewhere holds the first instance slot of fn in sluice_claims as another worker would,
// as far as this one can tell, until the claim's TTL or free gives it back.
func claimElsewhere(t *testing.T, js jetstream.JetStream, fn string) (free func()) {
	t.Helper()
	claims, err := js.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	key := events.ClaimKey(fn, 0)
	if _, err := claims.Create(context.Background(), key, []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := claims.Delete(context.Background(), key); err != nil {
			t.Error(err)
		}
	}
}
