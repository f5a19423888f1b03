package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/gateway"
)

// TestAsyncOutcomesGoToTheirDestinations: a success and a failure each reach their destination
// as Lambda's invocation record (the failure is dead-lettered besides), and a function whose
// success destination is itself stops after events.MaxHops.
func TestAsyncOutcomesGoToTheirDestinations(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	got := make(chan *nats.Msg, 8)
	sub, err := f.bus.Conn.ChanSubscribe("dest.>", got)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	record := func(subject string) events.DestinationRecord {
		t.Helper()
		select {
		case m := <-got:
			if m.Subject != subject || m.Header.Get(events.HeaderHops) != "1" {
				t.Fatalf("a record on %s with hops %q, want %s and 1", m.Subject, m.Header.Get(events.HeaderHops), subject)
			}
			var r events.DestinationRecord
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatalf("record %s: %v", m.Data, err)
			}
			return r
		case <-time.After(60 * time.Second):
			t.Fatalf("no record on %s", subject)
		}
		return events.DestinationRecord{}
	}

	ok := f.deploy(t, "fine", echo, events.Config{OnSuccess: "nats:dest.ok", OnFailure: "nats:dest.fail"})
	id, err := f.gw.Async(ctx, gateway.Call{Version: ok, Data: []byte(`{"name":"Bea"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r := record("dest.ok")
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != events.ConditionSuccess || string(r.RequestPayload) != `{"name":"Bea"}` ||
		r.ResponseContext.FunctionError != "" || len(r.ResponsePayload) == 0 {
		t.Fatalf("success record %+v", r)
	}

	bad := f.deploy(t, "broken", "def handler(e, c):\n    raise RuntimeError('always')\n", events.Config{Retries: 0, OnFailure: "nats:dest.fail"})
	id, err = f.gw.Async(ctx, gateway.Call{Version: bad, Data: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	r = record("dest.fail")
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != events.ConditionRetriesExhausted || r.ResponseContext.FunctionError != "Unhandled" ||
		r.RequestContext.ApproximateInvokeCount != 1 {
		t.Fatalf("failure record %+v", r)
	}
	if dlq := dlqMessage(t, f.bus.JS, "broken"); dlq.Header.Get("ce-id") != id {
		t.Fatalf("the failure is not dead-lettered besides: %v", dlq.Header)
	}

	// A function that sends its successes to itself runs 1 + MaxHops times, then stops.
	loop := f.deploy(t, "loop", echo, events.Config{OnSuccess: "function:loop"})
	if _, err := f.gw.Async(ctx, gateway.Call{Version: loop, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	meterRecords(t, f.bus.JS, "loop", 1+events.MaxHops)
	time.Sleep(2 * time.Second) // a further hop, were there one, would run by now
	if n := bustest.Stored(t, f.bus.JS, events.StreamMeters, events.MetersSubject("loop")); n != 1+events.MaxHops {
		t.Fatalf("the looping function ran %d times, want %d", n, 1+events.MaxHops)
	}
}
