package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// togetherJS returns only once four invocations have arrived in its one Node.js process, so the
// four events of the test succeed only if one instance runs them at once; each prints numbered
// lines tagged with its own invocation id, some in pieces, between awaits.
const togetherJS = `
let arrived = 0;
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
exports.handler = async (event, context) => {
  arrived++;
  for (let n = 0; n < 10; n++) {
    if (n % 2 === 0) {
      process.stdout.write(context.awsRequestId + " ");
      await tick();
      process.stdout.write("line " + n + "\n");
    } else {
      console.log(context.awsRequestId + " line " + n);
    }
    while (n === 0 && arrived < 4) await tick();
  }
  return "ok";
};
`

// A Node.js function deployed with --concurrency 4 and --max 1 runs four events at once on its
// one sandboxed instance, and `sluice logs --invocation` shows each invocation its own lines
// only; a Python function is refused --concurrency with a message naming the runtime that can.
func TestConcurrencyServesSeveralEventsOnOneInstance(t *testing.T) {
	n := newSite(t).start(t)
	r := n.sluice(t, "deploy", "pyconc", "--runtime", "python", "--handler", "main.handler",
		"--inline", "def handler(e, c):\n    return 1\n", "--concurrency", "2")
	if r.code == 0 || !strings.Contains(r.stderr, "nodejs") {
		t.Fatalf("deploy python --concurrency 2: %s; want a refusal naming nodejs", r)
	}
	n.ok(t, "deploy", "conc", "--runtime", "nodejs", "--handler", "index.handler", "--inline", togetherJS,
		"--concurrency", "4", "--max", "1", "--timeout", "30s")
	ids := asyncBurst(t, n, "conc", 4)
	allSucceeded(t, n, ids, asyncDeadline)
	for _, id := range ids {
		testkit.EventuallyEvery(t, 20*time.Second, 200*time.Millisecond, func() error {
			out := n.ok(t, "logs", "conc", "--invocation", id).stdout
			seen := 0
			for _, line := range strings.Split(out, "\n") {
				if !strings.Contains(line, " line ") {
					continue // START, END, REPORT
				}
				for _, other := range ids {
					if other != id && strings.Contains(line, other) {
						return fmt.Errorf("invocation %s shows a line of %s: %q", id, other, line)
					}
				}
				if !strings.Contains(line, id+" line ") {
					return fmt.Errorf("invocation %s shows the line %q", id, line)
				}
				seen++
			}
			if seen != 10 {
				return fmt.Errorf("invocation %s shows %d of its 10 lines:\n%s", id, seen, out)
			}
			return nil
		})
	}
}
