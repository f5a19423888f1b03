package worker_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/publish"
	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/client"
	"sluice.dev/services/gateway"
)

// counted appends the invocation id to $DIR/runs on every run, then does what the event says.
const counted = `
import os
def handler(event, context):
    with open(os.path.join(os.environ["DIR"], "runs"), "a") as f:
        f.write(context.aws_request_id + "\n")
    if event == "huge":
        raise Exception("<" * 1100000)
    if event == "fail":
        raise ValueError("no")
    return {"ran": context.aws_request_id}
`

// runs reads the ids of the runs the counted function made.
func runs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "runs"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func (f *fixture) deployCounted(t *testing.T, name string, retries int) (events.Version, string) {
	t.Helper()
	dir := t.TempDir()
	return f.deploy(t, name, counted, events.Config{Retries: retries, Env: map[string]string{"DIR": dir}}), dir
}

// setMaxMsgSize makes a stream (a bucket's: "KV_"+bucket) refuse messages over size bytes.
func setMaxMsgSize(t *testing.T, js jetstream.JetStream, stream string, size int32) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = size
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// consumerInfo reads the state of a function's shared consumer.
func consumerInfo(t *testing.T, js jetstream.JetStream, fn string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), events.StreamInvoke, events.ConsumerName(fn))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// settled waits until the function's consumer holds no event, delivered or not.
func settled(t *testing.T, js jetstream.JetStream, fn string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if info := consumerInfo(t, js, fn); info.NumPending+uint64(info.NumAckPending) > 0 {
			return fmt.Errorf("%d events waiting, %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		return nil
	})
}

// An error far larger than any record (1.1 MB of '<', 6.6 MB once JSON escapes it) is cut: the
// function runs once and retries twice, no more, the event reaches the DLQ and its record says
// failed with the cut message.
func TestAHugeErrorIsCutAndRetriedOnlyAsOftenAsAllowed(t *testing.T) {
	f := start(t)
	v, dir := f.deployCounted(t, "huge", 2)
	id, err := f.gw.Async(context.Background(), gateway.Call{Version: v, Data: []byte(`"huge"`)})
	if err != nil {
		t.Fatal(err)
	}
	r := f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusFailed })
	dlq := dlqMessage(t, f.bus.JS, "huge")
	settled(t, f.bus.JS, "huge")
	time.Sleep(500 * time.Millisecond) // a sleep, not a poll: a fourth run, which must not come, would show by now
	if n := len(runs(t, dir)); n != 3 {
		t.Fatalf("%d runs, want 3 (one and two retries)", n)
	}
	if r.Attempts != 3 || r.Outcome != events.OutcomeError || r.Error == nil || r.Error.Type != "Exception" {
		t.Fatalf("record %+v", r)
	}
	msg, kept := r.Error.Message, strings.Count(r.Error.Message, "<")
	if want := strings.Repeat("<", kept) + fmt.Sprintf("… (%d of 1100000 bytes cut)", 1100000-kept); msg != want ||
		len(msg) > events.MaxErrorMessage || kept < events.MaxErrorMessage-64 {
		t.Fatalf("record's message: %d bytes ending %q", len(msg), msg[max(0, len(msg)-60):])
	}
	if dlq.Header.Get("ce-id") != id || dlq.Header.Get(events.HeaderDLQAttempts) != "3" {
		t.Fatalf("dead letter headers %v", dlq.Header)
	}
	d := events.ParseDeadLetter("huge", dlq.Sequence, dlq.Header, dlq.Data, false)
	if d.Error == nil || d.Error.Type != "Exception" || !strings.HasSuffix(d.Error.Message, " of 1100000 bytes cut)") || len(d.Error.Message) > events.MaxHeaderErrorMessage+64 {
		t.Fatalf("dead letter's error: %+v", d.Error)
	}
}

// Ids that are no key or subject token (from a queue's message id, an event producer) run once,
// and their result is found through the API by the id as it came.
func TestOutsideIDsRunOnceAndAreFoundByThemselves(t *testing.T) {
	f := start(t)
	v, dir := f.deployCounted(t, "ids", 0)
	ctx := context.Background()

	// An event as a trigger adapter stores it, with a producer's id.
	const id = "order:1 x/é*"
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType(events.TypeQueueMessage)
	ev.SetExtension(events.ExtTrigger, events.TriggerQueue)
	if err := ev.SetData(event.ApplicationJSON, "ok"); err != nil {
		t.Fatal(err)
	}
	pub := publish.New(f.bus.JS)
	for range 2 { // a producer's retry: absorbed
		if err := pub.Publish(ctx, v.Function, ev); err != nil {
			t.Fatal(err)
		}
	}

	// A core NATS queue trigger taking the id from the message's Nats-Msg-Id.
	a, err := queue.New(events.Trigger{ID: "orders", Function: v.Function, Kind: events.TriggerQueue,
		Queue: &events.QueueSpec{URL: f.bus.URL + "/orders.in"}})
	if err != nil {
		t.Fatal(err)
	}
	qctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var state atomic.Value // the trigger's events.TriggerState, for the failure message
	go func() {
		done <- a.Run(qctx, pub, func(s events.TriggerStatus) { state.Store(s.State) })
	}()
	t.Cleanup(func() { stop(); <-done })
	const msgID = "order:2 y/ü>.*"
	testkit.Eventually(t, 10*time.Second, func() error {
		// Core NATS drops what is published before the trigger subscribes: publish until it ran.
		m := nats.NewMsg("orders.in")
		m.Header.Set(nats.MsgIdHdr, msgID)
		m.Data = []byte(`"ok"`)
		if err := f.bus.Conn.PublishMsg(m); err != nil {
			return err
		}
		if len(runs(t, dir)) < 2 {
			return fmt.Errorf("%d runs (trigger %v)", len(runs(t, dir)), state.Load())
		}
		return nil
	})

	router := mux.NewRouter()
	f.gw.Routes(router, router)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	api := client.New(srv.URL, "", nil)
	for _, id := range []string{id, "orders-" + msgID} {
		var r events.Result
		testkit.Eventually(t, 20*time.Second, func() error {
			var err error
			if r, err = api.Invocation(ctx, id); err != nil {
				return err
			}
			if r.Status != events.StatusSucceeded {
				return fmt.Errorf("status %s", r.Status)
			}
			return nil
		})
		if r.ID != id || !strings.Contains(string(r.Payload), `"ran"`) {
			t.Fatalf("result of %q: %+v %s", id, r, r.Payload)
		}
	}
	settled(t, f.bus.JS, "ids")
	got := runs(t, dir)
	if strings.Count(strings.Join(got, "\n"), "order:1") != 1 || len(got) < 2 {
		t.Fatalf("runs %q, want the producer's event once", got)
	}
	if _, err := api.Invocation(ctx, "order:1 x/é"); err == nil {
		t.Fatal("a result found for another id")
	}
}

// A succeeded result the results bucket refuses is not acknowledged: the worker keeps it and
// writes it on the redeliveries, without running the function again, until the bucket takes it.
func TestASucceededResultIsAcknowledgedOnlyOnceWritten(t *testing.T) {
	f := start(t)
	v, dir := f.deployCounted(t, "kept", 2)
	bucket := "KV_" + events.BucketResults
	setMaxMsgSize(t, f.bus.JS, bucket, 32) // no record fits
	id, err := f.gw.Async(context.Background(), gateway.Call{Version: v, Data: []byte(`"ok"`)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if info := consumerInfo(t, f.bus.JS, "kept"); info.NumRedelivered == 0 || info.Delivered.Consumer < 3 {
			return fmt.Errorf("%d deliveries, %d redelivered", info.Delivered.Consumer, info.NumRedelivered)
		}
		return nil
	})
	if n := len(runs(t, dir)); n != 1 {
		t.Fatalf("%d runs while the result could not be written, want 1", n)
	}
	if info := consumerInfo(t, f.bus.JS, "kept"); info.NumAckPending+int(info.NumPending) != 1 {
		t.Fatalf("the event was acknowledged unwritten: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
	}
	if r, err := f.gw.Result(context.Background(), id); err != nil || r.Status != events.StatusQueued {
		t.Fatalf("status while no record can be written: %+v, %v; want queued, read off the waiting event", r, err)
	}

	setMaxMsgSize(t, f.bus.JS, bucket, events.MaxRecord)
	r := f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusSucceeded })
	settled(t, f.bus.JS, "kept")
	// A limit raised between a write of the whole record and its fallback without the response
	// (the one a smaller limit takes) stores the fallback: the response is then left out, said so.
	answered := func(run string) bool { return strings.Contains(string(r.Payload), run) || r.PayloadOmitted > 0 }
	if got := runs(t, dir); len(got) != 1 || !answered(got[0]) || r.Attempts != 1 {
		t.Fatalf("runs %q, record %+v %s", got, r, r.Payload)
	}
}

// A dead letter the DLQ refuses is published on the redeliveries, without running the function
// again.
func TestADeadLetterIsWrittenWithoutRunningAgain(t *testing.T) {
	f := start(t)
	v, dir := f.deployCounted(t, "lost", 0)
	setMaxMsgSize(t, f.bus.JS, events.StreamDLQ, 64)
	id, err := f.gw.Async(context.Background(), gateway.Call{Version: v, Data: []byte(`"fail"`)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if info := consumerInfo(t, f.bus.JS, "lost"); info.NumRedelivered == 0 || info.Delivered.Consumer < 3 {
			return fmt.Errorf("%d deliveries, %d redelivered", info.Delivered.Consumer, info.NumRedelivered)
		}
		return nil
	})
	if n := len(runs(t, dir)); n != 1 {
		t.Fatalf("%d runs while the dead letter could not be written, want 1", n)
	}
	setMaxMsgSize(t, f.bus.JS, events.StreamDLQ, events.MaxPayload+64<<10)
	r := f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusFailed })
	dlq := dlqMessage(t, f.bus.JS, "lost")
	settled(t, f.bus.JS, "lost")
	s, err := f.bus.JS.Stream(context.Background(), events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(runs(t, dir)); n != 1 || info.State.Msgs != 1 || dlq.Header.Get("ce-id") != id || r.Attempts != 1 {
		t.Fatalf("%d runs, %d dead letters, record %+v", n, info.State.Msgs, r)
	}
}

// An event delivered again after its success was recorded (an acknowledgement lost, a worker
// killed after writing the result, the event published again under another message id) is
// acknowledged without running, and counted as a duplicate.
func TestARecordedSuccessIsNotRunAgain(t *testing.T) {
	f := start(t)
	v, dir := f.deployCounted(t, "once", 2)
	ctx := context.Background()
	ev := event.New()
	ev.SetID("once-1")
	ev.SetSource("/test")
	ev.SetType(events.TypeInvoke)
	if err := ev.SetData(event.ApplicationJSON, "ok"); err != nil {
		t.Fatal(err)
	}
	m, err := events.NewMsg(events.InvokeSubject(v.Function), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bus.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	f.result(t, "once-1", func(r events.Result) bool { return r.Status == events.StatusSucceeded })
	settled(t, f.bus.JS, "once")
	m.Header.Set(nats.MsgIdHdr, "once-1-again")
	if _, err := f.bus.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if n := f.w.Duplicates()["once"]; n != 1 {
			return fmt.Errorf("%d duplicates counted", n)
		}
		return nil
	})
	settled(t, f.bus.JS, "once")
	if n := len(runs(t, dir)); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}
