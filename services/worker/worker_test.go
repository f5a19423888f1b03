package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/services/archive"
	"sluice.dev/services/directory"
	"sluice.dev/services/gateway"
	"sluice.dev/services/registry"
	"sluice.dev/services/telemetry"
	"sluice.dev/services/worker"
)

// fixture is a real bus, registry, directory, gateway and worker running real interpreters.
type fixture struct {
	bus *bustest.Bus
	reg *registry.Registry
	gw  *gateway.Gateway
	w   *worker.Worker
	fns *directory.Directory
}

func start(t testing.TB) *fixture {
	t.Helper()
	return startWith(t, nil)
}

// startWith starts the fixture with prestart as the worker's Options.Prestart.
func startWith(t testing.TB, prestart map[string]int) *fixture {
	t.Helper()
	bus := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rts := catalog.New(catalog.Options{})
	reg, err := registry.New(bus.JS, rts, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fns, err := directory.Open(ctx, bus.JS, logger)
	if err != nil {
		t.Fatal(err)
	}
	tel := telemetry.NewPublisher(bus.Conn, 10000, logger)
	w, err := worker.New(ctx, worker.Options{
		ID: "test", NC: bus.Conn, JS: bus.JS, Fns: fns, Runtimes: rts, Telemetry: tel,
		CodeDir: t.TempDir(), Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Prestart: prestart, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(ctx, gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: fns, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = tel.Run(ctx); done <- struct{}{} }()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		gw.Close()
		fns.Close()
	})
	return &fixture{bus: bus, reg: reg, gw: gw, w: w, fns: fns}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (f *fixture) deploy(t testing.TB, name, code string, cfg events.Config) events.Version {
	t.Helper()
	cfg.Runtime, cfg.Handler = "python", "main.handler"
	return f.deployFile(t, name, "main.py", code, cfg)
}

// deployFile deploys a function whose code is one file, in cfg's runtime and handler.
func (f *fixture) deployFile(t testing.TB, name, file, code string, cfg events.Config) events.Version {
	t.Helper()
	ctx := context.Background()
	zip, err := archive.FromFile(file, []byte(code))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := f.reg.PutCode(ctx, zip)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.reg.Deploy(ctx, name, cfg, ref)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) sync(t *testing.T, v events.Version, data string) events.Result {
	t.Helper()
	r, err := f.gw.Sync(context.Background(), gateway.Call{Version: v, Data: []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) result(t *testing.T, id string, done func(events.Result) bool) events.Result {
	t.Helper()
	var r events.Result
	testkit.Eventually(t, 20*time.Second, func() error {
		var err error
		r, err = f.gw.Result(context.Background(), id)
		if err != nil {
			return err
		}
		if !done(r) {
			return fmt.Errorf("invocation %s: %+v", id, r)
		}
		return nil
	})
	return r
}

// meterRecords reads a function's meter records, want of them, in the order their attempts
// started: they are stored in the order each attempt's report finished, which a caller's next
// call may overtake (its answer comes before its meter record).
func meterRecords(t testing.TB, js jetstream.JetStream, fn string, want int) []events.Meter {
	t.Helper()
	meters := records[events.Meter](t, js, events.StreamMeters, events.MetersSubject(fn), want)
	slices.SortFunc(meters, func(a, b events.Meter) int { return a.Start.Compare(b.Start) })
	return meters
}

// records reads every record of a limits stream's subject.
func records[T any](t testing.TB, js jetstream.JetStream, stream, subject string, want int) []T {
	t.Helper()
	var out []T
	testkit.Eventually(t, 10*time.Second, func() error {
		out = nil
		c, err := js.OrderedConsumer(context.Background(), stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
		if err != nil {
			return err
		}
		batch, err := c.FetchNoWait(10000)
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			var v T
			if err := json.Unmarshal(m.Data(), &v); err != nil {
				return err
			}
			out = append(out, v)
		}
		if len(out) < want {
			return fmt.Errorf("%d records on %s, want %d", len(out), subject, want)
		}
		return nil
	})
	return out
}

const echo = `
import os
def handler(event, context):
    print("got", event)
    return {"echo": event, "id": context.aws_request_id, "env": os.environ.get("GREETING"), "pid": os.getpid()}
`

func TestSyncInvokeReusesAWarmInstance(t *testing.T) {
	f := start(t)
	v := f.deploy(t, "echo", echo, events.Config{Env: map[string]string{"GREETING": "hi"}})
	var pids []float64
	for i := range 3 {
		r := f.sync(t, v, fmt.Sprintf(`{"n":%d}`, i))
		if r.Outcome != events.OutcomeOK {
			t.Fatalf("invoke %d: %+v", i, r)
		}
		var got struct {
			Echo map[string]int `json:"echo"`
			ID   string         `json:"id"`
			Env  string         `json:"env"`
			PID  float64        `json:"pid"`
		}
		if err := json.Unmarshal(r.Payload, &got); err != nil {
			t.Fatalf("payload %s: %v", r.Payload, err)
		}
		if got.Echo["n"] != i || got.ID != r.ID || got.Env != "hi" {
			t.Fatalf("invoke %d payload = %s (id %s)", i, r.Payload, r.ID)
		}
		pids = append(pids, got.PID)
	}
	if pids[0] != pids[1] || pids[1] != pids[2] {
		t.Fatalf("sequential invocations ran in different processes %v: the instance was not reused", pids)
	}
	meters := meterRecords(t, f.bus.JS, "echo", 3)
	if !meters[0].Cold || meters[1].Cold || meters[2].Cold {
		t.Fatalf("cold flags = %v %v %v, want true false false", meters[0].Cold, meters[1].Cold, meters[2].Cold)
	}
	if meters[0].ColdStart == "" || meters[1].ColdStart != "" {
		t.Fatalf("cold start kinds = %q %q, want the first named and the second empty", meters[0].ColdStart, meters[1].ColdStart)
	}
	// Each invocation writes START, its printed line, END and REPORT.
	logs := functionLogs(t, f.bus.JS, "echo", 12)
	var printed int
	for _, l := range logs {
		if l.Stream == "stdout" && strings.HasPrefix(l.Message, "got ") {
			printed++
			if l.InvocationID == "" {
				t.Errorf("log line without invocation id: %+v", l)
			}
		}
	}
	if printed != 3 {
		t.Fatalf("%d printed lines in the logs, want 3: %+v", printed, logs)
	}
}

func TestFailuresAreReportedAndInstancesReplaced(t *testing.T) {
	f := start(t)
	v := f.deploy(t, "moody", `
import os, time
def handler(event, context):
    if event == "raise":
        raise ValueError("bad input")
    if event == "sleep":
        time.sleep(30)
    if event == "crash":
        os._exit(3)
    return "fine"
`, events.Config{Timeout: events.Duration(time.Second)})
	cases := []struct {
		data    string
		outcome events.Outcome
		errType string
	}{
		{`"raise"`, events.OutcomeError, "ValueError"},
		{`"ok"`, events.OutcomeOK, ""},
		{`"sleep"`, events.OutcomeTimeout, "Sandbox.Timedout"},
		{`"ok"`, events.OutcomeOK, ""},
		{`"crash"`, events.OutcomeCrash, "Runtime.ExitError"},
		{`"ok"`, events.OutcomeOK, ""},
	}
	for _, c := range cases {
		r := f.sync(t, v, c.data)
		if r.Outcome != c.outcome {
			t.Fatalf("%s: outcome %s, want %s (%+v)", c.data, r.Outcome, c.outcome, r.Error)
		}
		if c.errType != "" && (r.Error == nil || r.Error.Type != c.errType) {
			t.Fatalf("%s: error %+v, want type %s", c.data, r.Error, c.errType)
		}
		if c.outcome == events.OutcomeOK && string(r.Payload) != `"fine"` {
			t.Fatalf("%s: payload %s", c.data, r.Payload)
		}
	}
}

func TestAsyncResultAndRetriesIntoTheDLQ(t *testing.T) {
	f := start(t)
	ok := f.deploy(t, "fine", echo, events.Config{})
	id, err := f.gw.Async(context.Background(), gateway.Call{Version: ok, Data: []byte(`{"name":"Bea"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r := f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusSucceeded })
	if !strings.Contains(string(r.Payload), "Bea") || r.Attempts != 1 {
		t.Fatalf("async result = %+v", r)
	}

	retries := 2
	bad := f.deploy(t, "broken", "def handler(e, c):\n    raise RuntimeError('always')\n", events.Config{Retries: retries})
	id, err = f.gw.Async(context.Background(), gateway.Call{Version: bad, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	r = f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusFailed })
	if r.Attempts != retries+1 || r.Outcome != events.OutcomeError || r.Error.Type != "RuntimeError" {
		t.Fatalf("failed result = %+v", r)
	}
	dlq := dlqMessage(t, f.bus.JS, "broken")
	if got := dlq.Header.Get(events.HeaderDLQAttempts); got != fmt.Sprint(retries+1) {
		t.Fatalf("dead-lettered after %s attempts, want %d", got, retries+1)
	}
	if dlq.Header.Get("ce-id") != id || !strings.Contains(dlq.Header.Get(events.HeaderDLQError), "always") {
		t.Fatalf("dead letter headers = %v", dlq.Header)
	}
}

func TestMalformedEventGoesStraightToTheDLQ(t *testing.T) {
	f := start(t)
	f.deploy(t, "strict", echo, events.Config{})
	m := nats.NewMsg(events.InvokeSubject("strict"))
	m.Data = []byte("no cloudevent headers")
	if _, err := f.bus.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	dlq := dlqMessage(t, f.bus.JS, "strict")
	if dlq.Header.Get(events.HeaderDLQOutcome) != string(events.OutcomeRejected) || string(dlq.Data) != "no cloudevent headers" {
		t.Fatalf("dead letter = %v %q", dlq.Header, dlq.Data)
	}
}

// dlqMessage waits for the newest dead letter of a function.
func dlqMessage(t *testing.T, js jetstream.JetStream, fn string) *jetstream.RawStreamMsg {
	t.Helper()
	var out *jetstream.RawStreamMsg
	testkit.Eventually(t, 20*time.Second, func() error {
		s, err := js.Stream(context.Background(), events.StreamDLQ)
		if err != nil {
			return err
		}
		out, err = s.GetLastMsgForSubject(context.Background(), events.DLQSubject(fn))
		return err
	})
	return out
}

func TestInitErrorNamesTheCause(t *testing.T) {
	f := start(t)
	v := f.deploy(t, "typo", "def handle(e, c):\n    return 1\n", events.Config{Retries: 0})
	r := f.sync(t, v, `{}`)
	if r.Outcome != events.OutcomeInit || r.Error == nil || !strings.Contains(r.Error.Type, "HandlerNotFound") {
		t.Fatalf("missing handler: %+v %+v", r, r.Error)
	}
}

// The worker pulls a function's events over one subscription: a pull request with an inbox of
// its own per event would subscribe and unsubscribe for every event, and on a cluster every
// subscription travels to each server.
func TestPullsKeepOneSubscription(t *testing.T) {
	f := start(t)
	v := f.deploy(t, "pulled", echo, events.Config{})
	id, err := f.gw.Async(t.Context(), gateway.Call{Version: v, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	f.result(t, id, func(r events.Result) bool { return r.Status == events.StatusSucceeded })
	inserts := func() uint64 {
		sz, err := f.bus.Server.Subsz(&server.SubszOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sz.NumInserts
	}
	before := inserts()
	const n = 40
	for range n {
		if _, err := f.gw.Async(t.Context(), gateway.Call{Version: v, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		info, err := f.bus.JS.Consumer(t.Context(), events.StreamInvoke, events.ConsumerName("pulled"))
		if err != nil {
			return err
		}
		if ci := info.CachedInfo(); ci.NumPending+uint64(ci.NumAckPending) > 0 {
			return fmt.Errorf("%d events waiting, %d running", ci.NumPending, ci.NumAckPending)
		}
		return nil
	})
	if added := inserts() - before; added >= n/2 {
		t.Fatalf("%d subscriptions made while %d events ran; want the pulls' one", added, n)
	}
}
