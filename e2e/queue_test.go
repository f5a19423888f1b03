package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events/bustest"
)

// A JetStream stream on a broker of its own, consumed by a queue trigger of the node: a burst of
// messages, some already waiting when the trigger is added, each reaches the function once.
func TestQueueTrigger(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "recorder", recordPy)
	ext := bustest.RunServer(t)
	addr := strings.TrimPrefix(ext.ClientURL(), "nats://")

	if r := n.sluice(t, "trigger", "add", "recorder", "--queue", "kafka://"+addr+"/orders"); r.code != 1 || !strings.Contains(r.stderr, "scheme") {
		t.Fatalf("bad queue url: %s", r)
	}

	_, js := natsClient(t, ext.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	const total = 40
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			m := nats.NewMsg("orders.new")
			m.Data = fmt.Appendf(nil, `{"order": %d}`, i)
			m.Header.Set("Content-Type", "application/json")
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, total/2) // waiting in the stream before the trigger exists

	r := n.ok(t, "trigger", "add", "recorder", "--queue", "jetstream://"+addr+"/ORDERS", "--id", "orders")
	wantContains(t, "trigger add", r.stdout, "trigger orders added to recorder")
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if out := n.ok(t, "trigger", "list", "recorder").stdout; !strings.Contains(out, "running") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	})
	publish(total/2, total)

	count := func() (int, string) {
		logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
		return strings.Count(logs, `received {"order": `), logs
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if c, logs := count(); c < total {
			return fmt.Errorf("%d of %d messages reached the function:\n%s", c, total, logs)
		}
		return nil
	})
	logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
	for i := range total {
		if c := strings.Count(logs, fmt.Sprintf(`received {"order": %d}`, i)); c != 1 {
			t.Fatalf("message %d reached the function %d times:\n%s", i, c, logs)
		}
	}
}

// sqsBatchPy is a Lambda SQS handler with ReportBatchItemFailures, unchanged: every seventh
// order fails.
const sqsBatchPy = `import json


def handler(event, context):
    failed = []
    for record in event["Records"]:
        order = json.loads(record["body"])["order"]
        print("order %d in a batch of %d" % (order, len(event["Records"])))
        if order % 7 == 0:
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}
`

// A queue trigger with batches and partial failures, tried as a Lambda user would: the
// function gets SQS-shaped batches, and only the records it names run again, then are
// dead-lettered once its retries are spent.
func TestQueueBatchesWithPartialFailure(t *testing.T) {
	t.Parallel() // waits mostly; runs beside the other parallel tests
	n := newSite(t).start(t)
	deployInline(t, n, "orders", sqsBatchPy, "--retries", "1")
	ext := bustest.RunServer(t)
	addr := strings.TrimPrefix(ext.ClientURL(), "nats://")
	_, js := natsClient(t, ext.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	const total = 40
	for i := range total {
		if _, err := js.Publish(ctx, "orders.new", fmt.Appendf(nil, `{"order": %d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	n.ok(t, "trigger", "add", "orders", "--queue", "jetstream://"+addr+"/ORDERS", "--id", "orders",
		"--batch-size", "10", "--batch-window", "500ms", "--report-batch-item-failures")

	failing := map[int]bool{}
	for i := 0; i < total; i += 7 {
		failing[i] = true
	}
	runs := func(logs string, exact bool) error {
		for i := range total {
			got := strings.Count(logs, fmt.Sprintf("order %d in a batch of ", i))
			if want := map[bool]int{true: 2, false: 1}[failing[i]]; got < want || exact && got != want {
				return fmt.Errorf("order %d ran %d times, want %d", i, got, want)
			}
		}
		return nil
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		return runs(n.ok(t, "logs", "orders", "--since", "5m").stdout, false)
	})
	time.Sleep(2 * time.Second) // a further run, were there one, would be logged by now
	logs := n.ok(t, "logs", "orders", "--since", "5m").stdout
	if err := runs(logs, true); err != nil {
		t.Fatalf("%v:\n%s", err, logs)
	}
	batched := 0
	for size := 2; size <= 10; size++ {
		batched += strings.Count(logs, fmt.Sprintf("in a batch of %d\n", size))
	}
	if batched == 0 {
		t.Fatalf("no batch of more than one record:\n%s", logs)
	}
	// The records that failed twice are dead-lettered, and nothing else.
	deadOrders := func() map[int]bool {
		var dead []struct {
			Seq   uint64 `json:"seq"`
			Error struct {
				Type string `json:"errorType"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(n.ok(t, "dlq", "list", "orders", "-o", "json").stdout), &dead); err != nil {
			t.Fatal(err)
		}
		left := map[int]bool{}
		for _, d := range dead {
			if d.Error.Type != "BatchItemFailures" {
				t.Fatalf("dead letter %+v", d)
			}
			var shown struct {
				Data struct {
					Records []struct {
						Body string `json:"body"`
					} `json:"Records"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(n.ok(t, "dlq", "show", "orders", fmt.Sprint(d.Seq), "-o", "json").stdout), &shown); err != nil {
				t.Fatal(err)
			}
			for _, r := range shown.Data.Records {
				var o struct{ Order int }
				if err := json.Unmarshal([]byte(r.Body), &o); err != nil {
					t.Fatal(err)
				}
				if left[o.Order] {
					t.Fatalf("order %d dead-lettered twice", o.Order)
				}
				left[o.Order] = true
			}
		}
		return left
	}
	var left map[int]bool
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if left = deadOrders(); len(left) < len(failing) {
			return fmt.Errorf("dead-lettered orders %v, want %v", left, failing)
		}
		return nil
	})
	if len(left) != len(failing) {
		t.Fatalf("dead-lettered orders %v, want %v", left, failing)
	}
	for i := range failing {
		if !left[i] {
			t.Fatalf("dead-lettered orders %v, want %v", left, failing)
		}
	}
}

// spansPy records its own span: when it started and ended each message, by key and number.
const spansPy = `import json, time


def handler(event, context):
    start = time.time()
    time.sleep(0.2)
    print("span %s %d %.6f %.6f" % (event["customer"], event["n"], start, time.time()))
    return "ok"
`

// A keyed stream, checked from the function's own spans: one customer's orders run one at a
// time in the order they were sent, while other customers' run beside them.
func TestQueueOrderKey(t *testing.T) {
	t.Parallel() // waits mostly; runs beside the other parallel tests
	n := newSite(t).start(t)
	deployInline(t, n, "ledger", spansPy)
	ext := bustest.RunServer(t)
	addr := strings.TrimPrefix(ext.ClientURL(), "nats://")
	_, js := natsClient(t, ext.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PAY", Subjects: []string{"pay.>"}}); err != nil {
		t.Fatal(err)
	}
	const customers, each = 3, 5
	for i := range each {
		for c := range customers {
			m := nats.NewMsg("pay.new")
			m.Header.Set("Customer-Id", fmt.Sprint("c", c))
			m.Data = fmt.Appendf(nil, `{"customer": "c%d", "n": %d}`, c, i)
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.ok(t, "trigger", "add", "ledger", "--queue", "jetstream://"+addr+"/PAY", "--order-key", "header:Customer-Id", "--id", "pay")

	type span struct {
		n          int
		start, end float64
	}
	var spans map[string][]span
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		logs := n.ok(t, "logs", "ledger", "--since", "5m", "--grep", "span ").stdout
		spans = map[string][]span{}
		total := 0
		for line := range strings.Lines(logs) {
			_, rest, ok := strings.Cut(line, "span ")
			if !ok {
				continue
			}
			var s span
			var c string
			if _, err := fmt.Sscanf(rest, "%s %d %f %f", &c, &s.n, &s.start, &s.end); err != nil {
				return fmt.Errorf("line %q: %v", line, err)
			}
			spans[c] = append(spans[c], s)
			total++
		}
		if total < customers*each {
			return fmt.Errorf("%d of %d spans", total, customers*each)
		}
		return nil
	})
	for c, ss := range spans {
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.start, b.start) })
		for i, s := range ss {
			if s.n != i {
				t.Fatalf("customer %s ran order %d as its %d-th: %v", c, s.n, i, ss)
			}
			if i > 0 && s.start < ss[i-1].end {
				t.Fatalf("customer %s: order %d started before order %d ended: %v", c, i, i-1, ss)
			}
		}
	}
	overlap := false
	for a, as := range spans {
		for b, bs := range spans {
			if a < b {
				for _, x := range as {
					for _, y := range bs {
						overlap = overlap || x.start < y.end && y.start < x.end
					}
				}
			}
		}
	}
	if !overlap {
		t.Fatalf("no two customers ran side by side: %v", spans)
	}
}
