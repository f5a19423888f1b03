package events_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func TestResultRecordDecodes(t *testing.T) {
	// A finished record as the worker writes it (EncodeResult).
	in := events.Result{ID: "ev-1", Function: "hello", Version: 2, Status: events.StatusFailed, Outcome: events.OutcomeError,
		Attempts: 3, Redriven: 1, Error: &events.FunctionError{Type: "ValueError", Message: "no"}, DurationMs: 1.5}
	b, err := events.EncodeResult(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"ev-1","function":"hello","version":2,"status":"failed","outcome":"error","attempts":3,"redriven":1,"error":{"errorType":"ValueError","errorMessage":"no"},"durationMs":1.5}`
	if string(b) != want {
		t.Errorf("encoded = %s\nwant %s", b, want)
	}
	r, err := events.DecodeResult([]byte(want))
	if err != nil || r.Status != in.Status || r.Outcome != in.Outcome || r.Attempts != 3 || r.Redriven != 1 || r.Error.Message != "no" || r.DurationMs != 1.5 {
		t.Errorf("decoded = %+v, %v", r, err)
	}
	if _, err := events.DecodeResult([]byte(`{"id":`)); err == nil {
		t.Error("a broken record decoded")
	}
}

// statusStores opens what ReadStatus reads: the results bucket and the invocation stream.
func statusStores(t *testing.T, bus *bustest.Bus) (jetstream.KeyValue, jetstream.Stream) {
	t.Helper()
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	invoke, err := bus.JS.Stream(t.Context(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	return kv, invoke
}

// publishInvocation stores a waiting invocation event of fn with id and the given extensions.
func publishInvocation(t *testing.T, bus *bustest.Bus, fn, id string, ext map[string]string) {
	t.Helper()
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.TypeInvoke)
	ev.SetSource("/test")
	for k, v := range ext {
		ev.SetExtension(k, v)
	}
	m, err := events.NewMsg(events.EventSubject(fn, id), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.JS.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

// storeResult writes r as its invocation's record.
func storeResult(t *testing.T, kv jetstream.KeyValue, r events.Result) {
	t.Helper()
	b, err := events.EncodeResult(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), events.ResultKey(r.ID), b); err != nil {
		t.Fatal(err)
	}
}

func TestReadStatusOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, invoke := statusStores(t, bus)
	id := "an id with spaces" // hashed into its key and its subject
	before := time.Now().Add(-time.Second)
	publishInvocation(t, bus, "hello", id, map[string]string{events.ExtVersion: "3"})
	// Waiting: queued, read off the event, with nothing written for it.
	r, err := events.ReadStatus(ctx, kv, invoke, id)
	if err != nil || r.ID != id || r.Function != "hello" || r.Version != 3 || r.Status != events.StatusQueued || r.Enqueued.Before(before) {
		t.Errorf("queued = %+v, %v", r, err)
	}
	if st, err := kv.Status(ctx); err != nil || st.Values() != 0 {
		t.Errorf("records written for a queued invocation: %v, %v", st, err)
	}
	// An id never invoked has no status.
	if _, err := events.ReadStatus(ctx, kv, invoke, "another"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("status of no invocation: %v", err)
	}
	// Finished: its record, whatever waits.
	storeResult(t, kv, events.Result{ID: id, Function: "hello", Version: 3, Status: events.StatusSucceeded})
	if r, err := events.ReadStatus(ctx, kv, invoke, id); err != nil || r.Status != events.StatusSucceeded {
		t.Errorf("finished = %+v, %v", r, err)
	}
	if _, err := kv.Put(ctx, events.ResultKey("other"), []byte(`{"id":"not other"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := events.ReadResult(ctx, kv, "other"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read of another id's record under the key: %v", err)
	}
}

func TestReplyHeaders(t *testing.T) {
	m := events.NewReply("inbox", events.Result{Outcome: events.OutcomeOK, Version: 3, DurationMs: 1.25, Payload: []byte(`1`)})
	// The names and forms callers have always read.
	for k, want := range map[string]string{"Sluice-Outcome": "ok", "Sluice-Version": "3", "Sluice-Duration-Ms": "1.250"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	lit := nats.NewMsg("inbox")
	lit.Header.Set("Sluice-Outcome", "error")
	lit.Header.Set("Sluice-Version", "4")
	lit.Header.Set("Sluice-Duration-Ms", "2.500")
	lit.Data = []byte(`{"errorType":"E","errorMessage":"m"}`)
	r, err := events.ParseReply("f", "id", lit)
	if err != nil || r.Version != 4 || r.DurationMs != 2.5 || r.Status != events.StatusFailed || r.Error.Type != "E" {
		t.Errorf("parsed = %+v, %v", r, err)
	}
}

func TestHandbackRecord(t *testing.T) {
	// As workers have always written and read it: the count in decimal.
	if b := events.EncodeHandbacks(12); string(b) != `12` {
		t.Errorf("encoded = %s", b)
	}
	if n, err := events.DecodeHandbacks([]byte(`3`)); err != nil || n != 3 {
		t.Errorf("decoded = %d, %v", n, err)
	}
	if _, err := events.DecodeHandbacks([]byte(`x`)); err == nil {
		t.Error("a broken count decoded")
	}
}

func TestCountHandbackOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.ReadHandbacks(ctx, kv, "ev-1", 0); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read of no count: %v", err)
	}
	for range 2 {
		if err := events.CountHandback(ctx, kv, "ev-1", 0); err != nil {
			t.Fatal(err)
		}
	}
	e, err := kv.Get(ctx, events.HandbackKey("ev-1", 0))
	if err != nil || string(e.Value()) != `2` {
		t.Fatalf("stored count = %v, %v", e, err)
	}
	if n, err := events.ReadHandbacks(ctx, kv, "ev-1", 0); err != nil || n != 2 {
		t.Errorf("read = %d, %v", n, err)
	}
	if _, err := events.ReadHandbacks(ctx, kv, "ev-1", 1); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("another redrive's count: %v", err)
	}
	if _, err := kv.Put(ctx, events.HandbackKey("ev-2", 0), []byte(`x`)); err != nil {
		t.Fatal(err)
	}
	if err := events.CountHandback(ctx, kv, "ev-2", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := events.ReadHandbacks(ctx, kv, "ev-2", 0); err != nil || n != 1 {
		t.Errorf("count over a broken one = %d, %v", n, err)
	}
}

// A caller beside the worker gets exactly what one across the bus reads off the reply.
func TestReplyOfIsWhatTheReplyCarries(t *testing.T) {
	for _, r := range []events.Result{
		{ID: "a", Function: "f", Version: 2, Outcome: events.OutcomeOK, Payload: []byte(`{"x":1}`), DurationMs: 1.23456,
			Status: events.StatusQueued, Attempts: 3, Started: time.Now()},
		{ID: "b", Function: "f", Version: 1, Outcome: events.OutcomeError, Error: &events.FunctionError{Type: "E", Message: "m", Trace: []string{"at x"}}},
		{ID: "c", Function: "f", Version: 1, Outcome: events.OutcomeTimeout},
	} {
		want, err := events.ParseReply(r.Function, r.ID, events.NewReply("inbox", r))
		if err != nil {
			t.Fatal(err)
		}
		if got := events.ReplyOf(r); !reflect.DeepEqual(got, want) {
			t.Errorf("ReplyOf = %+v (%+v)\nthe reply reads %+v (%+v)", got, got.Error, want, want.Error)
		}
	}
}

// A dead-lettered invocation sent back by a redrive reads as queued while its redriven event
// waits, not as the failure its record still holds until the new attempt writes its own.
func TestARedrivenInvocationReadsQueued(t *testing.T) {
	bus := bustest.Start(t)
	ctx := t.Context()
	kv, invoke := statusStores(t, bus)
	const id = "inv-7"
	storeResult(t, kv, events.Result{ID: id, Function: "hello", Version: 2, Status: events.StatusFailed})
	if r, err := events.ReadStatus(ctx, kv, invoke, id); err != nil || r.Status != events.StatusFailed {
		t.Fatalf("dead-lettered = %+v, %v", r, err)
	}
	publishInvocation(t, bus, "hello", id, map[string]string{events.ExtVersion: "2", events.ExtRedrive: "1"})
	if r, err := events.ReadStatus(ctx, kv, invoke, id); err != nil || r.Status != events.StatusQueued || r.Redriven != 1 {
		t.Fatalf("redriven and waiting = %+v, %v; want queued, redriven once", r, err)
	}
	// The redriven attempt's own failure is final again.
	storeResult(t, kv, events.Result{ID: id, Function: "hello", Version: 2, Status: events.StatusFailed, Redriven: 1})
	if r, err := events.ReadStatus(ctx, kv, invoke, id); err != nil || r.Status != events.StatusFailed || r.Redriven != 1 {
		t.Fatalf("redriven and failed again = %+v, %v", r, err)
	}
}
