package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/archive"
	"sluice.dev/services/gateway"
)

// together waits until four invocations have arrived in the one Node.js process (so it only
// returns when they run at once on one instance), printing numbered lines tagged with its own
// event's tag, some in pieces and from timers.
const together = `
let arrived = 0;
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
exports.handler = async (event) => {
  arrived++;
  for (let n = 0; n < 10; n++) {
    if (n % 2 === 0) {
      process.stdout.write(event.tag + " ");
      await tick();
      process.stdout.write(n + "\n");
    } else {
      console.log(event.tag + " " + n);
    }
    while (n === 0 && arrived < 4) await tick();
  }
  return event.tag;
};
`

// A Node.js function with concurrency 4 and max 1 runs its burst four at a time on one
// instance, each event once, and every line lands in the logs under its own invocation.
func TestConcurrencyRunsSeveralInvocationsOnOneInstance(t *testing.T) {
	c := startCluster(t)
	m := c.join(t, "wc", 0)
	ctx := context.Background()
	zip, err := archive.FromFile("index.js", []byte(together))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.reg.PutCode(ctx, zip)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.reg.Deploy(ctx, "conc", events.Config{Runtime: "nodejs", Handler: "index.handler", Max: 1, Concurrency: 4,
		Timeout: events.Duration(20 * time.Second), IdleTimeout: events.Duration(time.Minute)}, ref)
	if err != nil {
		t.Fatal(err)
	}
	peak := watch("conc", m)
	ids := make([]string, 8)
	tags := map[string]string{} // invocation id → tag
	for i := range ids {
		tag := fmt.Sprintf("ev%d", i)
		id, err := c.gw.Async(ctx, gateway.Call{Version: v, Data: []byte(fmt.Sprintf(`{"tag":%q}`, tag))})
		if err != nil {
			t.Fatal(err)
		}
		ids[i], tags[id] = id, tag
	}
	c.succeeded(t, ids, 40*time.Second)
	if p := peak(); p != 1 {
		t.Fatalf("peak instances %d, want 1", p)
	}
	lines := streamLines(t, c.bus.JS, "conc", 8*10)
	seen := map[string]int{}
	for _, l := range lines {
		if l.Stream == "platform" {
			continue
		}
		tag, ok := tags[l.InvocationID]
		if !ok || !strings.HasPrefix(l.Message, tag+" ") {
			t.Fatalf("line %q attributed to invocation %q (tag %q)", l.Message, l.InvocationID, tag)
		}
		seen[tag]++
	}
	for _, tag := range tags {
		if seen[tag] != 10 {
			t.Fatalf("invocation %s has %d lines, want 10", tag, seen[tag])
		}
	}
}
