package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

const hogPy = `def handler(event, context):
    chunks = []
    for _ in range(event["mb"]):
        chunks.append(bytearray(1 << 20))
    return len(chunks)
`

const forkBombPy = `import os, time


def handler(event, context):
    started, refused = 0, 0
    for _ in range(500):
        try:
            if os.fork() == 0:
                time.sleep(5)
                os._exit(0)
            started += 1
        except OSError:
            refused += 1
    return {"started": started, "refused": refused}
`

// Limits the sandbox enforces reach the caller with their own outcome, and the node keeps
// serving. (Every hostile fixture runs at the sandbox's level in runtimes/sandbox; these are
// the same limits seen through the CLI of a running node.)
func TestLimitsReachTheCaller(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "echo", echoPy)

	t.Run("memory past the limit is oom", func(t *testing.T) {
		deployInline(t, n, "hog", hogPy, "--memory", "128")
		r := n.sluice(t, "invoke", "hog", "--data", `{"mb": 400}`)
		if r.code == 0 {
			t.Fatalf("a function allocating 400 MB in 128 MB succeeded: %s", r)
		}
		wantContains(t, "stderr", r.stderr, "error (oom)")
		r = n.ok(t, "invoke", "hog", "--data", `{"mb": 20}`)
		wantContains(t, "a new instance after the oom", r.stdout, "20")
	})

	t.Run("a fork bomb is contained", func(t *testing.T) {
		deployInline(t, n, "bomb", forkBombPy, "--timeout", "20s")
		r := n.ok(t, "invoke", "bomb")
		if !strings.Contains(r.stdout, `"refused"`) || strings.Contains(r.stdout, `"refused": 0`) {
			t.Fatalf("the pids limit refused no fork: %s", r.stdout)
		}
		testkit.EventuallyEvery(t, 10*time.Second, 100*time.Millisecond, func() error {
			logs := n.ok(t, "logs", "bomb").stdout
			if !strings.Contains(logs, "process limit refused") {
				return fmt.Errorf("the function's logs do not report the refused forks:\n%s", logs)
			}
			return nil
		})
	})

	r := n.ok(t, "invoke", "echo", "--data", `{"still":"serving"}`)
	wantContains(t, "another function afterwards", r.stdout, "serving")
}
