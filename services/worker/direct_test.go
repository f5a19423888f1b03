package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/gateway"
)

// streamLast is the sequence of the last message SLUICE_INVOKE stored.
func streamLast(t *testing.T, f *fixture) uint64 {
	t.Helper()
	s, err := f.bus.JS.Stream(context.Background(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// A synchronous call that finds a free warm instance runs on it without its event being stored;
// its attempt is metered all the same. The first call, with no instance yet, takes the stream.
func TestSyncCallsToAWarmInstanceAreNotStored(t *testing.T) {
	f := start(t)
	v := f.deploy(t, "echo", echo, events.Config{})
	if r := f.sync(t, v, `{"n":0}`); r.Outcome != events.OutcomeOK {
		t.Fatalf("first call: %+v", r)
	}
	if n := consumerInfo(t, f.bus.JS, "echo").Delivered.Consumer; n != 1 {
		t.Fatalf("the first call, with no warm instance, was delivered %d times by the stream, want 1", n)
	}
	last := streamLast(t, f)
	for i := 1; i <= 5; i++ {
		r := f.sync(t, v, `{"n":`+strconv.Itoa(i)+`}`)
		var got struct {
			Echo map[string]int `json:"echo"`
			ID   string         `json:"id"`
		}
		if err := json.Unmarshal(r.Payload, &got); err != nil || r.Outcome != events.OutcomeOK || got.Echo["n"] != i || got.ID != r.ID {
			t.Fatalf("call %d: %+v %s (%v)", i, r, r.Payload, err)
		}
	}
	if now := streamLast(t, f); now != last {
		t.Fatalf("the stream stored %d events for calls to a warm instance, want none", now-last)
	}
	if n := consumerInfo(t, f.bus.JS, "echo").Delivered.Consumer; n != 1 {
		t.Fatalf("%d deliveries, want only the first call's", n)
	}
	meters := meterRecords(t, f.bus.JS, "echo", 6)
	for _, m := range meters[1:] {
		if m.Cold || m.Outcome != events.OutcomeOK || m.Attempt != 1 {
			t.Fatalf("meter of a direct call: %+v", m)
		}
	}
}

// slowly records when each run starts and ends in $DIR, one file per run, then sleeps.
const slowly = `
import os, time
def handler(event, context):
    d = os.environ["DIR"]
    with open(os.path.join(d, context.aws_request_id), "w") as f:
        f.write("%f\n" % time.time())
        f.flush()
        time.sleep(event)
        f.write("%f\n" % time.time())
    return "done"
`

// A call that finds every warm instance busy is stored and waits its turn: the direct path never
// runs more than the function's max at once.
func TestDirectCallsKeepTheMax(t *testing.T) {
	f := start(t)
	dir := t.TempDir()
	v := f.deploy(t, "slow", slowly, events.Config{Max: 1, Env: map[string]string{"DIR": dir}})
	if r := f.sync(t, v, `0`); r.Outcome != events.OutcomeOK { // warm the one instance
		t.Fatalf("warm-up: %+v", r)
	}
	last := streamLast(t, f)
	var wg sync.WaitGroup
	results := make([]events.Result, 3)
	for i := range results {
		wg.Go(func() {
			r, err := f.gw.Sync(context.Background(), gateway.Call{Version: v, Data: []byte(`0.5`)})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.Outcome != events.OutcomeOK || string(r.Payload) != `"done"` {
			t.Fatalf("call %d: %+v %s", i, r, r.Payload)
		}
	}
	if stored := streamLast(t, f) - last; stored < 2 {
		t.Fatalf("%d of 3 concurrent calls to one busy instance were stored, want at least 2", stored)
	}
	type span struct{ from, to float64 }
	var spans []span
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var s span
		fields := strings.Fields(string(b))
		if len(fields) != 2 {
			t.Fatalf("run %s: %q", e.Name(), b)
		}
		if err := json.Unmarshal([]byte(fields[0]), &s.from); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(fields[1]), &s.to); err != nil {
			t.Fatal(err)
		}
		spans = append(spans, s)
	}
	if len(spans) != 4 {
		t.Fatalf("%d runs, want 4", len(spans))
	}
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.from < b.to && b.from < a.to {
				t.Fatalf("two runs overlapped on a function of max 1: %v and %v", a, b)
			}
		}
	}
}

// A gateway beside the worker, in one process, runs calls on its warm instances without the bus:
// no event stored, no offer published; the attempt is metered all the same.
func TestSyncCallsInTheWorkersProcessSkipTheBus(t *testing.T) {
	f := start(t)
	gw := localGateway(t, f)
	v := f.deploy(t, "echo", echo, events.Config{})
	if r := f.sync(t, v, `{"n":0}`); r.Outcome != events.OutcomeOK { // the first starts the instance
		t.Fatalf("first call: %+v", r)
	}
	offers, err := f.bus.Conn.SubscribeSync(events.DirectSubject("echo"))
	if err != nil {
		t.Fatal(err)
	}
	last := streamLast(t, f)
	for i := 1; i <= 3; i++ {
		r, err := gw.Sync(context.Background(), gateway.Call{Version: v, Data: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
		var got struct {
			Echo map[string]int `json:"echo"`
			ID   string         `json:"id"`
		}
		if err != nil || json.Unmarshal(r.Payload, &got) != nil || r.Outcome != events.OutcomeOK || r.Status != events.StatusSucceeded || got.Echo["n"] != i || got.ID != r.ID {
			t.Fatalf("call %d: %+v %s (%v)", i, r, r.Payload, err)
		}
	}
	if n, _, _ := offers.Pending(); n != 0 {
		t.Fatalf("%d calls offered on the bus, want none", n)
	}
	if now := streamLast(t, f); now != last {
		t.Fatalf("the stream stored %d events, want none", now-last)
	}
	began := time.Now().Add(-time.Minute)
	for _, m := range meterRecords(t, f.bus.JS, "echo", 4) {
		if m.Start.Before(began) || m.InvocationID == "" || m.Outcome != events.OutcomeOK || !m.Ran {
			t.Fatalf("meter of a call in the worker's process: %+v", m)
		}
	}
}

// localGateway is a gateway in the worker's process, as `sluice up` runs them: its calls try the
// worker first.
func localGateway(t *testing.T, f *fixture) *gateway.Gateway {
	t.Helper()
	gw, err := gateway.New(t.Context(), gateway.Options{NC: f.bus.Conn, JS: f.bus.JS, Fns: f.fns, Local: f.w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

// served waits until the worker pulls fn's events (its pull request waits on the consumer); it
// takes fn's direct calls from then on.
func served(t *testing.T, f *fixture, fn string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		if consumerInfo(t, f.bus.JS, fn).NumWaiting == 0 {
			return fmt.Errorf("the worker does not pull %s's events yet", fn)
		}
		return nil
	})
}

// A call in the worker's process to a function with no instance there starts one for the call,
// without the bus: no event stored, none delivered, no offer published. Its meter says it was a
// cold start.
func TestColdCallsInTheWorkersProcessSkipTheBus(t *testing.T) {
	f := start(t)
	gw := localGateway(t, f)
	v := f.deploy(t, "echo", echo, events.Config{})
	served(t, f, "echo")
	offers, err := f.bus.Conn.SubscribeSync(events.DirectSubject("echo"))
	if err != nil {
		t.Fatal(err)
	}
	last := streamLast(t, f)
	for i := range 2 {
		r, err := gw.Sync(context.Background(), gateway.Call{Version: v, Data: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
		var got struct {
			Echo map[string]int `json:"echo"`
		}
		if err != nil || json.Unmarshal(r.Payload, &got) != nil || r.Outcome != events.OutcomeOK || got.Echo["n"] != i {
			t.Fatalf("call %d: %+v %s (%v)", i, r, r.Payload, err)
		}
	}
	if n, _, _ := offers.Pending(); n != 0 {
		t.Fatalf("%d calls offered on the bus, want none", n)
	}
	if now := streamLast(t, f); now != last {
		t.Fatalf("the stream stored %d events, want none", now-last)
	}
	if n := consumerInfo(t, f.bus.JS, "echo").Delivered.Consumer; n != 0 {
		t.Fatalf("%d deliveries, want none", n)
	}
	meters := meterRecords(t, f.bus.JS, "echo", 2)
	if m := meters[0]; !m.Cold || m.InitMs <= 0 || m.Outcome != events.OutcomeOK || !m.Ran {
		t.Fatalf("meter of the first call: %+v, want a cold start", m)
	}
	if m := meters[1]; m.Cold || m.Outcome != events.OutcomeOK {
		t.Fatalf("meter of the second call: %+v, want a warm run", m)
	}
}

// A cold call in the worker's process keeps the function's max: while another worker holds the
// only slot, the call starts nothing here and waits on the stream for room (its delivery is handed
// back), which it gets once the slot is given back.
func TestColdCallsInTheWorkersProcessKeepTheMax(t *testing.T) {
	f := start(t)
	gw := localGateway(t, f)
	ctx := context.Background()
	free := claimElsewhere(t, f.bus.JS, "echo")
	v := f.deploy(t, "echo", echo, events.Config{Max: 1})
	served(t, f, "echo")
	last := streamLast(t, f)
	done := make(chan events.Result, 1)
	go func() {
		r, err := gw.Sync(ctx, gateway.Call{Version: v, Data: []byte(`{"n":1}`)})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	testkit.Eventually(t, 10*time.Second, func() error {
		if now := streamLast(t, f); now == last {
			return fmt.Errorf("the call is not stored")
		}
		return nil
	})
	// The worker takes the stored event once it probes again, finds no slot either, and hands it
	// back: the call has run nowhere.
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := consumerInfo(t, f.bus.JS, "echo").Delivered.Consumer; n == 0 {
			return fmt.Errorf("the stored call is not delivered yet")
		}
		return nil
	})
	select {
	case r := <-done:
		t.Fatalf("the call ran while another worker held the only slot: %+v", r)
	default:
	}
	free()
	select {
	case r := <-done:
		if r.Outcome != events.OutcomeOK {
			t.Fatalf("call: %+v %s", r, r.Payload)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not run once the slot was free")
	}
}

// A function whose module fails at import, called cold in the worker's process: each call
// answers its init error, and none leaves an instance, a probe or a claimed slot behind, so the
// next call starts afresh the same way rather than going to the bus.
func TestColdCallsThatFailInitLeaveNothingHeld(t *testing.T) {
	f := start(t)
	gw := localGateway(t, f)
	v := f.deploy(t, "broken", "raise RuntimeError('boom at import')\n", events.Config{Max: 1})
	served(t, f, "broken")
	last := streamLast(t, f)
	for i := range 2 {
		r, err := gw.Sync(context.Background(), gateway.Call{Version: v, Data: []byte(`{}`)})
		if err != nil || r.Outcome != events.OutcomeInit || r.Error == nil || !strings.Contains(r.Error.Message, "boom at import") {
			t.Fatalf("call %d: %+v %+v (%v), want its init error", i, r, r.Error, err)
		}
	}
	if now := streamLast(t, f); now != last {
		t.Fatalf("the stream stored %d events, want none: a failed cold start left the probe or a slot held", now-last)
	}
	claims, err := f.bus.JS.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		keys, _ := claims.ListKeys(context.Background())
		for k := range keys.Keys() {
			return fmt.Errorf("claim %s still held", k)
		}
		return nil
	})
	if n := f.w.Beat().Instances["broken"]; n != 0 {
		t.Fatalf("%d instances of the broken function left", n)
	}
}
