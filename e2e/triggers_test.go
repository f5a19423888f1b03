package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordPy prints what it received, so the test reads it back with sluice logs.
const recordPy = `import json


def handler(event, context):
    print("received " + json.dumps(event, sort_keys=True))
    return {"statusCode": 200, "body": json.dumps(event.get("pathParameters") or {})} if isinstance(event, dict) and "rawPath" in event else "ok"
`

// triggerDeadline bounds waiting for trigger events to reach a function.
const triggerDeadline = 60 * time.Second

func TestCronTrigger(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "recorder", recordPy)

	if r := n.sluice(t, "trigger", "add", "recorder", "--cron", "every second"); r.code != 1 || !strings.Contains(r.stderr, "cron expression") {
		t.Fatalf("bad expression: %s", r)
	}
	r := n.ok(t, "trigger", "add", "recorder", "--cron", "@every 1s", "--data", `{"job":"sweep"}`, "--id", "sweeper")
	wantContains(t, "trigger add", r.stdout, "trigger sweeper added to recorder")

	eventually(t, triggerDeadline, 500*time.Millisecond, func() error {
		logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
		if c := strings.Count(logs, `received {"job": "sweep"}`); c < 2 {
			return fmt.Errorf("%d cron ticks in the logs:\n%s", c, logs)
		}
		return nil
	})
	eventually(t, triggerDeadline, 500*time.Millisecond, func() error {
		out := n.ok(t, "trigger", "list", "recorder").stdout
		if !strings.Contains(out, "sweeper") || !strings.Contains(out, "running") || !strings.Contains(out, "@every 1s") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	})
	var views []struct {
		Status struct {
			State  string `json:"state"`
			Events int    `json:"events"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(n.ok(t, "trigger", "list", "-o", "json").stdout), &views); err != nil || len(views) != 1 || views[0].Status.Events < 1 {
		t.Fatalf("trigger list -o json: %v %+v", err, views)
	}

	n.ok(t, "trigger", "delete", "sweeper")
	if out := n.ok(t, "trigger", "list").stdout; strings.Contains(out, "sweeper") {
		t.Fatalf("deleted trigger listed:\n%s", out)
	}
	// Deleting the function takes its triggers with it.
	n.ok(t, "trigger", "add", "recorder", "--cron", "@hourly", "--id", "hourly")
	n.ok(t, "delete", "recorder")
	if out := n.ok(t, "trigger", "list").stdout; strings.Contains(out, "hourly") {
		t.Fatalf("trigger of a deleted function listed:\n%s", out)
	}
}
