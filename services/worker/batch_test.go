package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// reporter fails the records whose body says "bad", as a Lambda handler with
// ReportBatchItemFailures does.
const reporter = `
def handler(event, context):
    failed = [r["messageId"] for r in event["Records"] if "bad" in r["body"]]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
`

// A batch whose function reports one failed record of three: that record alone runs again,
// and once the retries are spent it alone is dead-lettered. The batch itself succeeded.
func TestABatchsFailedRecordsAloneRunAgain(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	f.deploy(t, "orders", reporter, events.Config{Retries: 1})

	ev := event.New()
	ev.SetID("orders-batch-1")
	ev.SetSource("nats://127.0.0.1/orders")
	ev.SetType("dev.sluice.queue.batch")
	ev.SetExtension(events.ExtTrigger, events.TriggerQueue)
	ev.SetExtension(events.ExtBatch, events.BatchReport)
	records := `{"Records":[{"messageId":"m1","body":"fine"},{"messageId":"m2","body":"bad"},{"messageId":"m3","body":"fine"}]}`
	if err := ev.SetData(event.ApplicationJSON, json.RawMessage(records)); err != nil {
		t.Fatal(err)
	}
	m, err := events.NewMsg(events.EventSubject("orders", ev.ID()), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bus.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}

	meters := meterRecords(t, f.bus.JS, "orders", 2) // the batch, then m2 alone at attempt 2
	if meters[0].Attempt != 1 || meters[1].Attempt != 2 {
		t.Fatalf("attempts %d, %d; want 1, 2", meters[0].Attempt, meters[1].Attempt)
	}
	// The failed record waited out the back-off (10 ms in these tests) before it ran again.
	firstEnd := meters[0].Start.Add(time.Duration(meters[0].DurationMs * float64(time.Millisecond)))
	if gap := meters[1].Start.Sub(firstEnd); gap < 10*time.Millisecond {
		t.Fatalf("the failed record ran again %s after the batch, before its back-off", gap)
	}
	dead := dlqMessage(t, f.bus.JS, "orders")
	var left events.Records
	if err := json.Unmarshal(dead.Data, &left); err != nil || len(left.Records) != 1 {
		t.Fatalf("dead letter %s: %v", dead.Data, err)
	}
	var r struct{ MessageID string }
	if err := json.Unmarshal(left.Records[0], &r); err != nil || r.MessageID != "m2" {
		t.Fatalf("dead-lettered record %s", left.Records[0])
	}
	if id := dead.Header.Get("ce-id"); id != "orders-batch-1~3" || dead.Header.Get("ce-"+events.ExtAttempt) != "" {
		t.Fatalf("dead letter of %q (attempt %q), want orders-batch-1~3 that starts its attempts again", id, dead.Header.Get("ce-"+events.ExtAttempt))
	}
	results, err := f.bus.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	res, err := events.ReadResult(ctx, results, "orders-batch-1")
	if err != nil || res.Status != events.StatusSucceeded || res.FailedItems != 1 {
		t.Fatalf("batch result %+v: %v", res, err)
	}
	time.Sleep(2 * time.Second) // a third run, were there one, would be done by now
	if n := bustest.Stored(t, f.bus.JS, events.StreamMeters, events.MetersSubject("orders")); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}
