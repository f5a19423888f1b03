package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/api/wire"
)

func TestFunctionScaleAndWorkers(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	deploy := `{"runtime":"python","handler":"main.handler","max":4,"inline":{"file":"main.py","content":"def handler(e, c):\n    return 1\n"}}`
	if st, ed := e.do(t, "PUT", "/v1/functions/hello", deploy, nil); st != 201 {
		t.Fatalf("deploy: %d %+v", st, ed)
	}

	var d wire.FunctionDetail
	if st, ed := e.do(t, "GET", "/v1/functions/hello", "", &d); st != 200 || d.Scale == nil || d.Scale.Lag != 0 || d.Scale.Reason != "" || len(d.Scale.Running) != 0 {
		t.Fatalf("fresh function: %d %+v scale %+v", st, ed, d.Scale)
	}

	for i := range 3 {
		m := nats.NewMsg(events.InvokeSubject("hello"))
		m.Data = []byte(fmt.Sprint(i))
		if _, err := e.bus.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer counts a stored event a moment after the store's acknowledgement.
	testkit.Eventually(t, 5*time.Second, func() error {
		if lag, err := events.ConsumerLag(ctx, e.bus.JS, "hello"); err != nil || lag != 3 {
			return fmt.Errorf("consumer lag %d, %v; want 3", lag, err)
		}
		return nil
	})
	at := time.Now().UTC().Truncate(time.Second)
	put := func(bucket, key string, v any) {
		t.Helper()
		kv, err := e.bus.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	put(events.BucketScale, events.ScaleKey("hello"), events.ScaleDecision{Function: "hello", Lag: 3, Desired: 3, Reason: "lag", At: at})
	put(events.BucketWorkers, "w2", events.WorkerBeat{ID: "w2", Host: "b", Runtimes: []string{"python"}, MemoryBudgetMB: 1024, MemoryUsedMB: 128,
		Instances: map[string]int{"hello": 1}})
	put(events.BucketWorkers, "w1", events.WorkerBeat{ID: "w1", Host: "a", Runtimes: []string{"nodejs", "python"}, MemoryBudgetMB: 2048, MemoryUsedMB: 256,
		Instances: map[string]int{"hello": 2, "other": 1}, Busy: map[string]int{"hello": 1}})

	d = wire.FunctionDetail{}
	if st, ed := e.do(t, "GET", "/v1/functions/hello", "", &d); st != 200 {
		t.Fatalf("get: %d %+v", st, ed)
	}
	s := d.Scale
	if s == nil || s.Lag != 3 || s.Desired != 3 || s.Reason != "lag" || !s.DecidedAt.Equal(at) ||
		s.Running["w1"] != 2 || s.Running["w2"] != 1 || len(s.Running) != 2 || s.Busy["w1"] != 1 || len(s.Busy) != 1 {
		t.Fatalf("scale = %+v, want lag 3, desired 3 (lag), running w1:2 w2:1, busy w1:1", s)
	}

	var wl wire.WorkerList
	if st, ed := e.do(t, "GET", "/v1/workers", "", &wl); st != 200 || len(wl.Workers) != 2 || wl.Workers[0].ID != "w1" || wl.Workers[1].ID != "w2" ||
		wl.Workers[0].Instances["other"] != 1 || wl.Workers[0].MemoryBudgetMB != 2048 {
		t.Fatalf("workers: %d %+v %+v", st, ed, wl)
	}
}

func TestWorkersEmpty(t *testing.T) {
	e := start(t)
	var raw map[string]json.RawMessage
	if st, ed := e.do(t, "GET", "/v1/workers", "", &raw); st != 200 || string(raw["workers"]) != "[]" {
		t.Fatalf("no workers: %d %+v %s", st, ed, raw["workers"])
	}
}
