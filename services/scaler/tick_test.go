package scaler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/directory"
	"sluice.dev/services/scaler"
)

// deploy records a function head and version and its consumer, as the registry does.
func deploy(t *testing.T, js jetstream.JetStream, name string, cfg events.Config) {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, events.BucketFunctions)
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range map[string]any{
		events.FunctionKey(name):   events.Function{Name: name, Latest: 1},
		events.VersionKey(name, 1): events.Version{Function: name, Version: 1, Config: cfg},
	} {
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, events.StreamInvoke, events.ConsumerConfig(name)); err != nil {
		t.Fatal(err)
	}
}

func publish(t *testing.T, js jetstream.JetStream, name string, n int) {
	t.Helper()
	for i := range n {
		m := nats.NewMsg(events.InvokeSubject(name))
		m.Data = []byte(fmt.Sprint(i))
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func openFns(t *testing.T, js jetstream.JetStream) *directory.Directory {
	t.Helper()
	fns, err := directory.Open(context.Background(), js, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fns.Close)
	return fns
}

func decision(t *testing.T, js jetstream.JetStream, name string) events.ScaleDecision {
	t.Helper()
	scale, _ := js.KeyValue(context.Background(), events.BucketScale)
	d, err := events.ReadScaleDecision(context.Background(), scale, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func beat(t *testing.T, js jetstream.JetStream, b events.WorkerBeat) {
	t.Helper()
	kv, _ := js.KeyValue(context.Background(), events.BucketWorkers)
	v, _ := json.Marshal(b)
	if _, err := kv.Put(context.Background(), b.ID, v); err != nil {
		t.Fatal(err)
	}
}

// waitLag waits until each function's consumer counts the wanted lag.
func waitLag(t *testing.T, js jetstream.JetStream, want map[string]int) {
	t.Helper()
	testkit.Eventually(t, 2*time.Second, func() error {
		for fn, n := range want {
			if lag, err := events.ConsumerLag(context.Background(), js, fn); err != nil || lag != n {
				return fmt.Errorf("lag of %s = %d (%v), want %d", fn, lag, err, n)
			}
		}
		return nil
	})
}

// TestTickFollowsRealLag publishes to a function no worker pulls, so the consumer's lag is real:
// up at once to max, held through the idle window once drained, then down to min.
func TestTickFollowsRealLag(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	idle := 5 * time.Second
	deploy(t, bus.JS, "busy", events.Config{Min: 1, Max: 3, Concurrency: 2, IdleTimeout: events.Duration(idle)})
	deploy(t, bus.JS, "calm", events.Config{Max: 10, Concurrency: 2, IdleTimeout: events.Duration(idle)})
	publish(t, bus.JS, "busy", 10)
	publish(t, bus.JS, "calm", 3)
	beat(t, bus.JS, events.WorkerBeat{ID: "w1", Instances: map[string]int{"busy": 2}, Busy: map[string]int{"busy": 1}})
	beat(t, bus.JS, events.WorkerBeat{ID: "w2", Instances: map[string]int{"busy": 1, "calm": 1}})
	fns := openFns(t, bus.JS)
	testkit.Eventually(t, 2*time.Second, func() error {
		if len(fns.Functions()) != 2 {
			return fmt.Errorf("directory has %d functions", len(fns.Functions()))
		}
		return nil
	})
	// The server counts a consumer's pending events a moment after the publish is acknowledged.
	waitLag(t, bus.JS, map[string]int{"busy": 10, "calm": 3})
	s, err := scaler.New(ctx, scaler.Options{JS: bus.JS, Fns: fns, ID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.Tick(ctx, now)
	if d := decision(t, bus.JS, "busy"); d.Lag != 10 || d.Desired != 3 || d.Reason != "max" || d.Running != 3 || d.Busy != 1 || d.By != "s1" {
		t.Fatalf("busy = %+v, want lag 10, desired 3 (max), running 3, busy 1, by s1", d)
	}
	if d := decision(t, bus.JS, "calm"); d.Lag != 3 || d.Desired != 2 || d.Reason != "lag" || d.Running != 1 {
		t.Fatalf("calm = %+v, want lag 3, desired 2 = ceil(3/2) (lag), running 1", d)
	}

	// Nothing changed: no new record.
	scale, _ := bus.JS.KeyValue(ctx, events.BucketScale)
	before, _ := scale.Get(ctx, events.ScaleKey("busy"))
	s.Tick(ctx, now.Add(time.Second))
	if after, _ := scale.Get(ctx, events.ScaleKey("busy")); after.Revision() != before.Revision() {
		t.Fatalf("unchanged decision rewritten: revision %d -> %d", before.Revision(), after.Revision())
	}

	// Drain busy's consumer as a worker would.
	c, err := bus.JS.Consumer(ctx, events.StreamInvoke, events.ConsumerName("busy"))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != 10 {
		t.Fatalf("drained %d events, want 10", got)
	}
	s.Tick(ctx, now.Add(2*time.Second))
	if d := decision(t, bus.JS, "busy"); d.Lag != 0 || d.Desired != 3 || d.Reason != "idle" {
		t.Fatalf("busy just drained = %+v, want lag 0, desired 3 held (idle)", d)
	}
	s.Tick(ctx, now.Add(idle)) // busy last seen at now+1s: not yet idle for the whole window
	if d := decision(t, bus.JS, "busy"); d.Desired != 3 {
		t.Fatalf("busy before its idle window = %+v, want 3 held", d)
	}
	s.Tick(ctx, now.Add(idle+time.Second))
	if d := decision(t, bus.JS, "busy"); d.Lag != 0 || d.Desired != 1 || d.Reason != "min" {
		t.Fatalf("busy after its idle window = %+v, want desired 1 (min)", d)
	}
}

// TestTickScalesToZero: a function with min 0 goes to zero after its idle timeout, in real time.
func TestTickScalesToZero(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	deploy(t, bus.JS, "f", events.Config{Max: 4, Concurrency: 1, IdleTimeout: events.Duration(200 * time.Millisecond)})
	publish(t, bus.JS, "f", 2)
	fns := openFns(t, bus.JS)
	testkit.Eventually(t, 2*time.Second, func() error {
		if len(fns.Functions()) != 1 {
			return fmt.Errorf("directory has %d functions", len(fns.Functions()))
		}
		return nil
	})
	waitLag(t, bus.JS, map[string]int{"f": 2})
	s, err := scaler.New(ctx, scaler.Options{JS: bus.JS, Fns: fns})
	if err != nil {
		t.Fatal(err)
	}
	s.Tick(ctx, time.Now())
	if d := decision(t, bus.JS, "f"); d.Desired != 2 {
		t.Fatalf("decision = %+v, want 2", d)
	}
	stream, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, func() error {
		s.Tick(ctx, time.Now())
		if d := decision(t, bus.JS, "f"); d.Desired != 0 {
			return fmt.Errorf("decision = %+v, want 0", d)
		}
		return nil
	})
}

// TestTickCountsActiveInstances: calls that never wait on the consumer show no lag; the instances
// the workers report as lately active are the demand then, held through the idle window.
func TestTickCountsActiveInstances(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	idle := 5 * time.Second
	deploy(t, bus.JS, "web", events.Config{Max: 10, Concurrency: 1, IdleTimeout: events.Duration(idle)})
	beat(t, bus.JS, events.WorkerBeat{ID: "w1", Instances: map[string]int{"web": 2}, Active: map[string]int{"web": 2}})
	beat(t, bus.JS, events.WorkerBeat{ID: "w2", Instances: map[string]int{"web": 1}, Active: map[string]int{"web": 1}})
	fns := openFns(t, bus.JS)
	testkit.Eventually(t, 2*time.Second, func() error {
		if len(fns.Functions()) != 1 {
			return fmt.Errorf("directory has %d functions", len(fns.Functions()))
		}
		return nil
	})
	s, err := scaler.New(ctx, scaler.Options{JS: bus.JS, Fns: fns, ID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.Tick(ctx, now)
	if d := decision(t, bus.JS, "web"); d.Lag != 0 || d.Desired != 3 || d.Reason != "active" || d.Running != 3 {
		t.Fatalf("web = %+v, want lag 0, desired 3 (active), running 3", d)
	}
	// The calls stop: the workers report nothing active, and the count holds through the window.
	beat(t, bus.JS, events.WorkerBeat{ID: "w1", Instances: map[string]int{"web": 2}})
	beat(t, bus.JS, events.WorkerBeat{ID: "w2", Instances: map[string]int{"web": 1}})
	s.Tick(ctx, now.Add(time.Second))
	if d := decision(t, bus.JS, "web"); d.Desired != 3 || d.Reason != "idle" {
		t.Fatalf("web just quiet = %+v, want 3 held (idle)", d)
	}
	s.Tick(ctx, now.Add(idle+time.Second))
	if d := decision(t, bus.JS, "web"); d.Desired != 0 {
		t.Fatalf("web after its idle window = %+v, want 0", d)
	}
}
