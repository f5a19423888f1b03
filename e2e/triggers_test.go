package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
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

	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
		if c := strings.Count(logs, `received {"job": "sweep"}`); c < 2 {
			return fmt.Errorf("%d cron ticks in the logs:\n%s", c, logs)
		}
		return nil
	})
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
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

func TestHTTPRouteTrigger(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "recorder", recordPy)

	n.ok(t, "trigger", "add", "recorder", "--http-path", "/orders/{id}", "--method", "GET", "--public", "--cors", "https://shop.example", "--id", "orders")
	n.ok(t, "trigger", "add", "recorder", "--http-path", "/admin/{what+}", "--id", "admin")
	if r := n.sluice(t, "trigger", "add", "recorder", "--http-path", "/bad/{x"); r.code != 1 || !strings.Contains(r.stderr, "parameter") {
		t.Fatalf("bad route: %s", r)
	}

	var r response
	testkit.EventuallyEvery(t, triggerDeadline, 200*time.Millisecond, func() error {
		r = n.request(t, "GET", "/r/orders/42?full=1", nil, true, "Origin", "https://shop.example")
		if r.status != 200 {
			return fmt.Errorf("GET /r/orders/42: %d %s", r.status, r.body)
		}
		return nil
	})
	if string(r.body) != `{"id": "42"}` || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("route answer: %s %v", r.body, r.header)
	}
	if r := n.request(t, "OPTIONS", "/r/orders/42", nil, true, "Origin", "https://shop.example", "Access-Control-Request-Method", "GET"); r.status != 204 || r.header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := n.request(t, "POST", "/r/orders/42", nil, true); r.status != 405 {
		t.Fatalf("wrong method: %d %s", r.status, r.body)
	}
	wantErrorJSON(t, "private route without the token", n.request(t, "GET", "/r/admin/users/7", nil, true), 401)
	if r := n.request(t, "GET", "/r/admin/users/7", nil, false); r.status != 200 || string(r.body) != `{"what": "users/7"}` {
		t.Fatalf("private route with the token: %d %s", r.status, r.body)
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
		if !strings.Contains(logs, `"routeKey": "GET /orders/{id}"`) || !strings.Contains(logs, `"rawPath": "/orders/42"`) {
			return fmt.Errorf("route request not in the logs:\n%s", logs)
		}
		out := n.ok(t, "trigger", "list", "recorder").stdout
		if !strings.Contains(out, "GET /r/orders/{id}") || !strings.Contains(out, "running") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	})
	n.ok(t, "trigger", "delete", "orders")
	testkit.EventuallyEvery(t, triggerDeadline, 200*time.Millisecond, func() error {
		if r := n.request(t, "GET", "/r/orders/42", nil, true); r.status != 404 {
			return fmt.Errorf("deleted route answers %d", r.status)
		}
		return nil
	})
}
