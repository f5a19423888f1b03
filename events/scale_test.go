package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// The record as the scaler has always written it to sluice_scale.
const decisionJSON = `{"function":"hello","lag":5,"desired":3,"reason":"lag","running":2,"busy":1,"by":"s1","at":"2025-01-02T03:04:05Z"}`

var decision = events.ScaleDecision{Function: "hello", Lag: 5, Desired: 3, Reason: "lag", Running: 2, Busy: 1,
	By: "s1", At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}

func TestScaleDecisionEncoding(t *testing.T) {
	b, err := events.EncodeScaleDecision(decision)
	if err != nil || string(b) != decisionJSON {
		t.Errorf("encoded = %s, %v\nwant %s", b, err, decisionJSON)
	}
	d, err := events.DecodeScaleDecision([]byte(decisionJSON))
	if err != nil || d != decision {
		t.Errorf("decoded = %+v, %v", d, err)
	}
	if _, err := events.DecodeScaleDecision([]byte(`{"desired":"x"}`)); err == nil {
		t.Error("a bad record decoded")
	}
	if fn, ok := events.ScaleKeyFunction(events.ScaleKey("hello")); !ok || fn != "hello" {
		t.Errorf("ScaleKeyFunction = %q, %v", fn, ok)
	}
	if _, ok := events.ScaleKeyFunction(events.ScalerLeaseKey); ok {
		t.Error("the lease key read as a decision's")
	}
}

func TestScaleDecisionsOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketScale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.ReadScaleDecision(ctx, kv, "hello"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read before any decision: %v", err)
	}
	first := decision
	first.Desired, first.At = 1, time.Time{}
	for _, d := range []events.ScaleDecision{first, decision} {
		if err := events.PutScaleDecision(ctx, kv, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Put(ctx, events.ScaleKey("broken"), []byte(`{`)); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, events.ScaleKey("hello"))
	if err != nil || string(e.Value()) != decisionJSON {
		t.Errorf("stored = %s, %v", e.Value(), err)
	}
	if d, err := events.ReadScaleDecision(ctx, kv, "hello"); err != nil || d != decision {
		t.Errorf("read = %+v, %v", d, err)
	}
	all, err := events.ScaleDecisions(ctx, kv)
	if len(all) != 1 || all[0] != decision || err == nil {
		t.Errorf("all = %+v, %v (want hello's, and an error for the broken one)", all, err)
	}
	hist, err := events.ScaleDecisionHistory(ctx, kv, "hello")
	if err != nil || len(hist) != 2 || hist[0].Desired != 1 || hist[0].At.IsZero() || hist[1] != decision {
		t.Errorf("history = %+v, %v", hist, err)
	}
}

func TestWorkerBeatsOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketWorkers)
	if err != nil {
		t.Fatal(err)
	}
	// A heartbeat as a worker has always written it, under its id.
	if _, err := kv.Put(ctx, "w1", []byte(`{"id":"w1","host":"h","started":"2025-01-02T03:04:05Z","updated":"2025-01-02T03:04:05Z","runtimes":["python3.12"],"memoryBudgetMB":1024,"memoryUsedMB":256,"instances":{"hello":2},"busy":{"hello":1},"active":{"hello":2}}`)); err != nil {
		t.Fatal(err)
	}
	if err := events.PutWorkerBeat(ctx, kv, events.WorkerBeat{ID: "w2", Instances: map[string]int{"hello": 1}}); err != nil {
		t.Fatal(err)
	}
	b, err := events.ReadWorkerBeat(ctx, kv, "w1")
	if err != nil || b.MemoryBudgetMB != 1024 || b.Instances["hello"] != 2 || b.Runtimes[0] != "python3.12" {
		t.Errorf("w1 = %+v, %v", b, err)
	}
	if _, err := events.ReadWorkerBeat(ctx, kv, "w3"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read of a worker without a beat: %v", err)
	}
	beats, err := events.WorkerBeats(ctx, kv)
	if err != nil || len(beats) != 2 {
		t.Errorf("beats = %+v, %v", beats, err)
	}
	running, busy, active, err := events.RunningInstances(ctx, kv)
	if err != nil || running["hello"]["w1"] != 2 || running["hello"]["w2"] != 1 || busy["hello"]["w1"] != 1 || active["hello"]["w1"] != 2 || len(active["hello"]) != 1 {
		t.Errorf("running %v busy %v active %v, %v", running, busy, active, err)
	}
}
