package e2e

import (
	"encoding/json"
	"testing"

	"sluice.dev/events"
)

// A node stopped with SIGINT and started again on the same data directory keeps its functions.
func TestRestartKeepsFunctions(t *testing.T) {
	s := newSite(t)
	n := s.start(t)
	deployInline(t, n, "keeper", echoPy)
	wantContains(t, "before the restart", n.ok(t, "invoke", "keeper", "--data", `{"round":1}`).stdout, "round")
	n.stop(t)

	n = s.start(t)
	wantContains(t, "list after the restart", n.ok(t, "list").stdout, "keeper")
	wantContains(t, "invoke after the restart", n.ok(t, "invoke", "keeper", "--data", `{"round":2}`).stdout, "round")
	n.stop(t)
}

// An async invocation accepted by a node without a worker is still there after a restart, and a
// node with a worker runs it.
func TestPendingInvocationSurvivesRestart(t *testing.T) {
	s := newSite(t)
	n := s.start(t, "--no-worker")
	deployInline(t, n, "pending", echoPy)
	id := n.ok(t, "invoke", "pending", "--async", "--data", `{"kept":"yes"}`).lastLine()
	if id == "" {
		t.Fatal("invoke --async printed no id")
	}
	r := n.ok(t, "invocation", id, "-o", "json")
	var res events.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("invocation -o json: %v: %s", err, r.stdout)
	}
	if res.Status != events.StatusQueued {
		t.Errorf("without a worker the invocation is %q, want queued", res.Status)
	}
	n.stop(t)

	n = s.start(t)
	res = waitInvocation(t, n, id)
	if res.Status != events.StatusSucceeded {
		t.Fatalf("pending invocation after the restart: status %s outcome %s error %+v", res.Status, res.Outcome, res.Error)
	}
	wantContains(t, "pending invocation result", string(res.Payload), "kept")
	n.stop(t)
}
