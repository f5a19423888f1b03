package scaler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/directory"
	"sluice.dev/services/scaler"
)

func TestTickRecordsLagAsDesiredInstances(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, _ := bus.JS.KeyValue(ctx, events.BucketFunctions)
	cfg := events.Config{Max: 3, Concurrency: 1, IdleTimeout: events.Duration(time.Minute)}
	for key, v := range map[string]any{
		events.FunctionKey("busy"):   events.Function{Name: "busy", Latest: 1},
		events.VersionKey("busy", 1): events.Version{Function: "busy", Version: 1, Config: cfg},
	} {
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.JS.CreateOrUpdateConsumer(ctx, events.StreamInvoke, events.ConsumerConfig("busy")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := nats.NewMsg(events.InvokeSubject("busy"))
		m.Data = []byte(fmt.Sprint(i))
		if _, err := bus.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	fns, err := directory.Open(ctx, bus.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer fns.Close()
	s, err := scaler.New(ctx, bus.JS, fns, time.Second, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	s.Tick(ctx, time.Now())
	scale, _ := bus.JS.KeyValue(ctx, events.BucketScale)
	e, err := scale.Get(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	var d scaler.Decision
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Lag != 5 || d.Desired != 3 || d.Reason != "max" {
		t.Fatalf("decision = %+v, want lag 5, desired 3 (max)", d)
	}
}
