package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/billing"
	"sluice.dev/services/keys"
	"sluice.dev/services/registry"
)

// newObserveSite is newSite with the metrics, billing and dead-letter endpoints, billing at
// prices.
func newObserveSite(t *testing.T, prices billing.Prices) *site {
	t.Helper()
	s := newSite(t)
	reg, err := registry.New(s.bus.JS, runtimes(t), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	a := api.New(reg, s.bus.JS, nil, nil)
	a.Routes(r)
	a.ObserveRoutes(r, prices)
	srv := httptest.NewServer(access.New(testToken, nil).Require(keys.Administer, access.DenyJSON, r))
	t.Cleanup(srv.Close)
	s.srv, s.env["SLUICE_URL"] = srv, srv.URL
	return s
}

func (s *site) meter(t *testing.T, m events.Meter) {
	t.Helper()
	b, _ := json.Marshal(m)
	if _, err := s.bus.JS.Publish(context.Background(), events.MetersSubject(m.Function), b); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsAndBill(t *testing.T) {
	s := newObserveSite(t, billing.Prices{PerMillionRequests: 0.2, PerGBSecond: 0.0000166667, FreeRequests: 1})
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	now := time.Now()
	for i, o := range []events.Outcome{events.OutcomeOK, events.OutcomeOK, events.OutcomeOK, events.OutcomeTimeout} {
		s.meter(t, events.Meter{Function: "echo", Start: now.Add(-time.Second), DurationMs: float64(10 * (i + 1)), BilledMs: int64(10 * (i + 1)), MemoryMB: 1024, Outcome: o, Cold: i == 0})
	}
	r := s.ok(t, "metrics", "echo")
	for _, want := range []string{"invocations:  4", "p50 20.00 ms, p95 40.00 ms, p99 40.00 ms", "errors:       1 (25.0%), of which 1 timeouts", "cold starts:  1", "ok 3", "timeout 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("metrics output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = s.ok(t, "metrics", "echo", "--since", "1h", "--step", "1m", "-o", "json")
	var v wire.MetricsView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Summary.Invocations != 4 || v.StepSeconds != 60 {
		t.Fatalf("metrics -o json: %v %+v", err, v)
	}
	s.fails(t, ExitUsage, "metrics", "echo", "--since", "yesterday")
	s.fails(t, ExitFailure, "metrics", "nope")
	if r := s.fails(t, ExitFailure, "metrics", "echo", "--since", "1h", "--step", "1s"); !strings.Contains(r.stderr, "buckets") {
		t.Errorf("step too small: %s", r)
	}

	r = s.ok(t, "bill", "--since", "1d")
	if !strings.Contains(r.stdout, "echo") || !strings.Contains(r.stdout, "TOTAL") || !strings.Contains(r.stdout, "free tier") {
		t.Errorf("bill:\n%s", r.stdout)
	}
	r = s.ok(t, "bill", "--csv")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	// 100 ms × 1 GiB = 0.1 GB-s; 4 requests.
	if len(lines) != 3 || lines[1] != "echo,4,0.1,0.0000008,0.00000166667,0.00000246667,USD" || lines[2] != "TOTAL,4,0.1,0.0000006,0.00000166667,0.00000226667,USD" {
		t.Errorf("bill --csv:\n%s", r.stdout)
	}
	r = s.ok(t, "bill", "-o", "json")
	var b billing.Bill
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.Total.Requests != 4 || b.Total.MBms != 100*1024 || b.Total.FreeTierApplied.Requests != 1 {
		t.Fatalf("bill -o json: %v %+v", err, b.Total)
	}
	s.fails(t, ExitUsage, "bill", "--since", "-2h")
	s.fails(t, ExitUsage, "bill", "--csv", "-o", "json")
}

func TestPriceFlagsAndEnv(t *testing.T) {
	s := newSite(t)
	roles := newFakeRoles(s)
	if r := s.runIn(t.Context(), "", roles, "up", "--data", t.TempDir()); r.code != 0 || roles.up.Observe.Prices == nil || *roles.up.Observe.Prices != billing.DefaultPrices() {
		t.Fatalf("up: %s %+v", r, roles.up.Observe)
	}
	s.env[billing.EnvPerGBSecond] = "0.00002"
	s.env[billing.EnvFreeRequests] = "1000000"
	r := s.runIn(t.Context(), "", roles, "up", "--data", t.TempDir(), "--price-per-million-requests", "0.25", "--logs-max-age", "48h", "--meters-max-bytes", "1048576")
	o := roles.up.Observe
	if r.code != 0 || o.Prices == nil || *o.Prices != (billing.Prices{PerMillionRequests: 0.25, PerGBSecond: 0.00002, FreeRequests: 1000000}) || o.LogsMaxAge != 48*time.Hour || o.MetersMaxBytes != 1<<20 {
		t.Fatalf("up with prices: %s %+v", r, o)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://h:4222", "--metrics", "127.0.0.1:9090", "--free-gb-seconds", "400000"); r.code != 0 || roles.serve.Observe.Metrics != "127.0.0.1:9090" || roles.serve.Observe.Prices.FreeGBSeconds != 400000 {
		t.Fatalf("serve --metrics: %s %+v", r, roles.serve.Observe)
	}
	for _, args := range [][]string{
		{"up", "--price-per-gb-second", "-1"},
		{"up", "--price-per-million-requests", "cheap"},
		{"up", "--logs-max-bytes", "-5"},
	} {
		if r := s.runIn(t.Context(), "", roles, append(args, "--data", t.TempDir())...); r.code != ExitUsage {
			t.Errorf("%v: %s", args, r)
		}
	}
	s.env[billing.EnvPerMillionRequests] = "twenty cents"
	if r := s.runIn(t.Context(), "", roles, "up", "--data", t.TempDir()); r.code != ExitUsage || !strings.Contains(r.stderr, billing.EnvPerMillionRequests) {
		t.Errorf("bad price in the environment: %s", r)
	}
}

func TestDeadLetterCommands(t *testing.T) {
	s := newObserveSite(t, billing.DefaultPrices())
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	// A dead letter as the worker writes it.
	m := nats.NewMsg(events.DLQSubject("echo"))
	m.Header.Set("ce-specversion", "1.0")
	m.Header.Set("ce-id", "inv-1")
	m.Header.Set("ce-source", "/test")
	m.Header.Set("ce-type", events.TypeInvoke)
	m.Header.Set(events.HeaderDLQError, `{"errorType":"ValueError","errorMessage":"no thanks"}`)
	m.Header.Set(events.HeaderDLQOutcome, "error")
	m.Header.Set(events.HeaderDLQAttempts, "3")
	m.Header.Set(events.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Data = []byte(`{"x":1}`)
	ack, err := s.bus.JS.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	r := s.ok(t, "dlq", "list", "echo")
	if !strings.Contains(r.stdout, "inv-1") || !strings.Contains(r.stdout, "ValueError: no thanks") || !strings.Contains(r.stdout, "  3  ") {
		t.Errorf("dlq list:\n%s", r.stdout)
	}
	r = s.ok(t, "dlq", "show", "echo", "1")
	if !strings.Contains(r.stdout, `{"x":1}`) || !strings.Contains(r.stdout, "ce-source:") {
		t.Errorf("dlq show:\n%s", r.stdout)
	}
	s.fails(t, ExitUsage, "dlq", "show", "echo", "first")
	s.fails(t, ExitFailure, "dlq", "show", "echo", "99")
	s.fails(t, ExitFailure, "dlq", "list", "nope")
	r = s.ok(t, "dlq", "redrive", "echo", "--seq", "1")
	if !strings.Contains(r.stdout, "1 event(s) sent back to echo") {
		t.Errorf("dlq redrive:\n%s", r.stdout)
	}
	// The event is back on the function's subject, marked and with a fresh message id.
	st, _ := s.bus.JS.Stream(context.Background(), events.StreamInvoke)
	back, err := st.GetLastMsgForSubject(context.Background(), events.EventSubject("echo", "inv-1"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Header.Get(events.HeaderRedrive) != "1" || back.Header.Get("ce-id") != "inv-1" || back.Header.Get(events.HeaderDLQError) != "" || string(back.Data) != `{"x":1}` || back.Header.Get(nats.MsgIdHdr) == "" {
		t.Errorf("redriven message: %v %s", back.Header, back.Data)
	}
	if r := s.ok(t, "dlq", "list", "echo", "-o", "json"); strings.Contains(r.stdout, "inv-1") {
		t.Errorf("dlq list after redrive:\n%s", r.stdout)
	}
	if _, err := s.bus.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if r := s.ok(t, "dlq", "purge", "echo"); !strings.Contains(r.stdout, "purged 1 event(s)") {
		t.Errorf("dlq purge:\n%s", r.stdout)
	}
	_ = ack
}

func TestRedriveTwiceMakesOneInvocation(t *testing.T) {
	s := newObserveSite(t, billing.DefaultPrices())
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	m := nats.NewMsg(events.DLQSubject("echo"))
	m.Header.Set("ce-specversion", "1.0")
	m.Header.Set("ce-id", "inv-2")
	m.Header.Set("ce-source", "/test")
	m.Header.Set("ce-type", events.TypeInvoke)
	m.Data = []byte(`{}`)
	ctx := context.Background()
	ack, err := s.bus.JS.PublishMsg(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	// The same dead letter sent back twice, as two people pressing redrive at once would.
	dlq, _ := s.bus.JS.Stream(ctx, events.StreamDLQ)
	raw, err := dlq.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	msgID := "redrive-inv-2-" + fmt.Sprint(ack.Sequence)
	for range 2 {
		if _, err := s.bus.JS.PublishMsg(ctx, events.RedriveMsg("echo", raw.Header, raw.Data, msgID)); err != nil {
			t.Fatal(err)
		}
	}
	s.ok(t, "dlq", "redrive", "echo")
	inv, _ := s.bus.JS.Stream(ctx, events.StreamInvoke)
	info, err := inv.Info(ctx, jetstream.WithSubjectFilter(events.InvokeSubject("echo")+".>"))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[events.EventSubject("echo", "inv-2")]; n != 1 {
		t.Fatalf("%d invocation events after redriving one dead letter three times, want 1", n)
	}
}

func TestAmount(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 0.2: "0.20", 12: "12.00", 0.0000166667: "0.0000166667", 0.000000133334: "0.0000001333", 1.5e-11: "0.00"} {
		if got := amount(v); got != want {
			t.Errorf("amount(%v) = %s, want %s", v, got, want)
		}
	}
}
