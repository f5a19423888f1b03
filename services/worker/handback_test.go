package worker_test

import (
	"context"
	"testing"
	"time"

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
	claims, err := c.bus.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	// Another worker, as far as this one can tell, holds the function's only slot until the
	// claim's TTL frees it.
	if _, err := claims.Create(ctx, events.ClaimKey("once", 0), []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
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
