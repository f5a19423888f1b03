package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

func TestTriggerCommands(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "job", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)

	r := s.ok(t, "trigger", "add", "job", "--cron", "*/10 * * * * *", "--tz", "Europe/Paris", "--data", `{"a":1}`, "--id", "tick")
	if !strings.Contains(r.stdout, "trigger tick added to job: cron */10 * * * * * (Europe/Paris)") {
		t.Fatalf("add: %s", r)
	}
	if r := s.run(t, "trigger", "add", "job", "--cron", "61 * * * *"); r.code != 1 || !strings.Contains(r.stderr, "cron expression") {
		t.Fatalf("bad cron: %s", r)
	}
	for _, args := range [][]string{
		{"trigger", "add", "job"},
		{"trigger", "add", "job", "--cron", "@daily", "--http-path", "/x"},
		{"trigger", "add", "job", "--cron", "@daily", "--prefix", "a/"},
		{"trigger", "add", "job", "--http-path", "/x", "--tz", "UTC"},
		{"trigger", "add", "job", "--cron", "@daily", "--data", "{nope"},
	} {
		if r := s.run(t, args...); r.code != 2 {
			t.Errorf("%q: %s", args, r)
		}
	}
	if r := s.run(t, "trigger", "add", "nope", "--cron", "@daily"); r.code != 1 || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("unknown function: %s", r)
	}
	got := s.ok(t, "trigger", "list").stdout
	if !strings.HasPrefix(got, "ID") || !strings.Contains(got, "LAST-ERROR") || !strings.Contains(got, "tick") || !strings.Contains(got, "pending") {
		t.Fatalf("list: %s", got)
	}
	var views []wire.TriggerView
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "job", "-o", "json").stdout), &views); err != nil || len(views) != 1 || string(views[0].Trigger.Cron.Data) != `{"a":1}` {
		t.Fatalf("list -o json: %v %+v", err, views)
	}
	if r := s.ok(t, "trigger", "delete", "tick"); !strings.Contains(r.stdout, "deleted trigger tick") {
		t.Fatalf("delete: %s", r)
	}
	if r := s.run(t, "trigger", "delete", "tick"); r.code != 1 || !strings.Contains(r.stderr, "no trigger") {
		t.Fatalf("delete again: %s", r)
	}
}

// Batch flags make the queue spec's batching, and a batch that cannot work is refused.
func TestTriggerBatchFlags(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "job", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	s.ok(t, "trigger", "add", "job", "--queue", "nats://127.0.0.1:4222/orders", "--batch-size", "50", "--batch-window", "2s",
		"--report-batch-item-failures", "--id", "orders")
	var views []wire.TriggerView
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "job", "-o", "json").stdout), &views); err != nil || len(views) != 1 {
		t.Fatalf("list -o json: %v %+v", err, views)
	}
	if b := views[0].Trigger.Queue.Batching; b == nil || b.Size != 50 || time.Duration(b.Window) != 2*time.Second || !b.ReportItemFailures {
		t.Fatalf("batching %+v", b)
	}
	if r := s.run(t, "trigger", "add", "job", "--queue", "nats://127.0.0.1:4222/o", "--batch-size", "20000"); r.code != 1 || !strings.Contains(r.stderr, "batch size") {
		t.Fatalf("huge batch: %s", r)
	}
	if r := s.run(t, "trigger", "add", "job", "--queue", "nats://127.0.0.1:4222/o", "--batch-window", "10m"); r.code != 1 || !strings.Contains(r.stderr, "batch window") {
		t.Fatalf("long window: %s", r)
	}
	if r := s.run(t, "trigger", "add", "job", "--cron", "@daily", "--batch-size", "5"); r.code != 2 {
		t.Fatalf("batch on cron: %s", r)
	}
	s.ok(t, "trigger", "add", "job", "--queue", "jetstream://127.0.0.1:4222/PAY", "--order-key", "header:Customer-Id", "--id", "pay")
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "job", "-o", "json").stdout), &views); err != nil || len(views) != 2 {
		t.Fatalf("list -o json: %v %+v", err, views)
	}
	for _, v := range views {
		if v.Trigger.ID == "pay" && v.Trigger.Queue.OrderKey != "header:Customer-Id" {
			t.Fatalf("order key %+v", v.Trigger.Queue)
		}
	}
	if r := s.run(t, "trigger", "add", "job", "--queue", "nats://127.0.0.1:4222/o", "--order-key", "routing-key"); r.code != 1 || !strings.Contains(r.stderr, "order key") {
		t.Fatalf("routing key on NATS: %s", r)
	}
}

func TestTriggerListHidesSecrets(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "job", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	const secret = "amqp-password-never-shown"
	outs := []string{s.ok(t, "trigger", "add", "job", "--queue", "amqp://guest:"+secret+"@127.0.0.1:5672/orders", "--id", "orders").stdout}
	outs = append(outs, s.ok(t, "trigger", "list").stdout)
	outs = append(outs, s.ok(t, "trigger", "list", "job", "-o", "json").stdout)
	for _, out := range outs {
		if strings.Contains(out, secret) || !strings.Contains(out, "amqp://guest:***@127.0.0.1:5672/orders") {
			t.Errorf("output shows the password, or not the URL: %s", out)
		}
	}
	if r := s.run(t, "trigger", "add", "job", "--queue", "amqp://guest:12/"+secret+"@127.0.0.1/q"); r.code != 1 || strings.Contains(r.stderr, secret) {
		t.Errorf("refused URL: %s", r)
	}
}

// A CloudEvents subscription from the flags, shown by its filters.
func TestTriggerCloudEventsFlags(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "job", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	r := s.ok(t, "trigger", "add", "job", "--cloudevents", "--type", "com.shop.order.paid", "--source-prefix", "/shop/", "--id", "paid")
	if !strings.Contains(r.stdout, "trigger paid added to job: cloudevents type=com.shop.order.paid source^=/shop/") {
		t.Fatalf("add: %s", r)
	}
	var views []wire.TriggerView
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "job", "-o", "json").stdout), &views); err != nil || len(views) != 1 ||
		*views[0].Trigger.CloudEvents != (events.CloudEventsSpec{Type: "com.shop.order.paid", SourcePrefix: "/shop/"}) {
		t.Fatalf("list -o json: %v %+v", err, views)
	}
	if r := s.run(t, "trigger", "add", "job", "--cron", "@daily", "--type", "x"); r.code != 2 {
		t.Fatalf("--type without --cloudevents: %s", r)
	}
	if r := s.run(t, "trigger", "add", "job", "--cloudevents", "--subject", "a\nb"); r.code != 1 || !strings.Contains(r.stderr, "subject filter") {
		t.Fatalf("bad filter: %s", r)
	}
}
