package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/billing"
	"sluice.dev/services/metrics"
)

const flaky = `import json
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
`

// scrape reads /metrics with the token and parses it with Prometheus's text parser.
func (c client) scrape() func(name string, labels map[string]string) float64 {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, "/metrics", "")
	if resp.StatusCode != 200 {
		c.t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	fams, err := metrics.ParseText(strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	return func(name string, labels map[string]string) float64 {
		v, _ := metrics.Value(fams, name, labels)
		return v
	}
}

func (c client) invoke(fn, data string, async bool) string {
	c.t.Helper()
	var h []string
	if async {
		h = []string{"X-Sluice-Invocation-Type", "Event"}
	}
	resp, body := c.do(http.MethodPost, "/v1/functions/"+fn+"/invocations", data, h...)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusInternalServerError {
		c.t.Fatalf("invoke %s: %d %s", fn, resp.StatusCode, body)
	}
	if async {
		var acc struct{ InvocationID string }
		if err := json.Unmarshal([]byte(body), &acc); err != nil || acc.InvocationID == "" {
			c.t.Fatalf("invoke %s async: %d %s", fn, resp.StatusCode, body)
		}
		return acc.InvocationID
	}
	return resp.Header.Get("X-Sluice-Invocation-Id")
}

func (c client) getJSON(path string, status int, v any) {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, path, "")
	if resp.StatusCode != status {
		c.t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, status)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
}

// waitLatest waits until invocations of fn run version v: the node's view of the functions
// follows deploys a moment later.
func (c client) waitLatest(fn string, v int) {
	c.t.Helper()
	testkit.Eventually(c.t, 20*time.Second, func() error {
		resp, _ := c.do(http.MethodPost, "/v1/functions/"+fn+"/invocations", `{"order": 0}`)
		if got := resp.Header.Get("X-Sluice-Version"); got != fmt.Sprint(v) {
			return fmt.Errorf("%s runs version %s, not %d yet", fn, got, v)
		}
		return nil
	})
}

func TestMetricsEndpointAndQueryMatchInvocations(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	// min 1 keeps an instance whatever the lag, so the scale gauges have one to show.
	c.deploy("flaky", "python", "main.handler", "main.py", flaky, map[string]any{"memoryMB": 256, "min": 1})
	const ok, bad = 7, 3
	for range ok {
		c.invoke("flaky", `{}`, false)
	}
	for range bad {
		c.invoke("flaky", `{"fail": true}`, false)
	}
	// The meters reach the stream asynchronously; the query reads them from there.
	var v wire.MetricsView
	testkit.Eventually(t, 20*time.Second, func() error {
		c.getJSON("/v1/functions/flaky/metrics?since=5m&step=10s", 200, &v)
		if v.Summary.Invocations != ok+bad {
			return fmt.Errorf("query counts %d invocations", v.Summary.Invocations)
		}
		return nil
	})
	s := v.Summary
	if s.Errors != bad || s.Outcomes["ok"] != ok || s.Outcomes["error"] != bad || s.ColdStarts < 1 || s.P50Ms <= 0 || s.P99Ms < s.P50Ms {
		t.Errorf("summary %+v", s)
	}
	if v.StepSeconds != 10 || len(v.Series) == 0 || len(v.Series) > 120 || v.Function != "flaky" {
		t.Errorf("view: step %v, %d buckets", v.StepSeconds, len(v.Series))
	}
	var inSeries, cold int
	for _, b := range v.Series {
		inSeries += b.Invocations
		cold += b.ColdStarts
	}
	if inSeries != ok+bad || cold != s.ColdStarts {
		t.Errorf("series holds %d invocations and %d cold starts; summary %d, %d", inSeries, cold, ok+bad, s.ColdStarts)
	}

	// The Prometheus side counts the same attempts, as the worker finished them.
	val := c.scrape()
	f := map[string]string{"function": "flaky"}
	if n := val("sluice_invocations_total", map[string]string{"function": "flaky", "outcome": "ok"}); n != ok {
		t.Errorf("ok invocations %v, want %d", n, ok)
	}
	if n := val("sluice_invocations_total", map[string]string{"function": "flaky", "outcome": "error"}); n != bad {
		t.Errorf("error invocations %v, want %d", n, bad)
	}
	if n := val("sluice_invocation_duration_seconds_count", f); n != ok+bad {
		t.Errorf("duration histogram count %v, want %d", n, ok+bad)
	}
	if n := val("sluice_cold_starts_total", f); n != float64(s.ColdStarts) {
		t.Errorf("cold starts %v, query says %d", n, s.ColdStarts)
	}
	if gbs := val("sluice_billed_gb_seconds_total", f); gbs <= 0 || fmt.Sprintf("%.9f", gbs) != fmt.Sprintf("%.9f", s.GBSeconds) {
		t.Errorf("billed GB-seconds %v, query says %v", gbs, s.GBSeconds)
	}
	if n := val("sluice_telemetry_dropped_total", nil); n != 0 {
		t.Errorf("dropped %v", n)
	}
	testkit.Eventually(t, 20*time.Second, func() error { // the scaler records a decision every second
		val := c.scrape()
		if val("sluice_function_instances", f) < 1 {
			return fmt.Errorf("no running instance of flaky in the scale gauges")
		}
		return nil
	})

	// The scaler's recorded decisions draw instances over time in the series.
	c.getJSON("/v1/functions/flaky/metrics?since=5m", 200, &v)
	maxRunning := 0
	for _, b := range v.Series {
		maxRunning = max(maxRunning, b.Running)
	}
	if maxRunning < 1 || v.Scale.Running < 1 || v.Series[len(v.Series)-1].Running != v.Scale.Running {
		t.Errorf("series instances: max %d, last %d; scale now %+v", maxRunning, v.Series[len(v.Series)-1].Running, v.Scale)
	}

	// /metrics is behind the token like the API.
	resp, err := http.Get(c.ep.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d", resp.StatusCode)
	}
	// Bad input gets a clear error.
	c.getJSON("/v1/functions/flaky/metrics?since=yesterday", 400, nil)
	c.getJSON("/v1/functions/flaky/metrics?since=1h&step=1s", 400, nil)
	c.getJSON("/v1/functions/flaky/metrics?step=fast", 400, nil)
	c.getJSON("/v1/functions/nope/metrics", 404, nil)
	c.getJSON("/v1/billing?since=-5m", 400, nil)
}

func TestBillReconcilesWithMeterRecords(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	c.deploy("fast", "python", "main.handler", "main.py", "def handler(e, c):\n    return 1\n", map[string]any{"memoryMB": 192})
	c.deploy("slow", "python", "main.handler", "main.py", "import time\ndef handler(e, c):\n    time.sleep(0.02)\n    return 1\n", map[string]any{"memoryMB": 512})
	const nFast, nSlow = 2000, 50
	began := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < nFast; i += 8 {
				c.invoke("fast", `{}`, true)
			}
		})
	}
	wg.Wait()
	for range nSlow {
		c.invoke("slow", `{}`, true)
	}
	var b billing.Bill
	testkit.Eventually(t, 3*time.Minute, func() error {
		c.getJSON("/v1/billing?since=1h", 200, &b)
		if b.Total.Requests != nFast+nSlow {
			return fmt.Errorf("bill counts %d requests", b.Total.Requests)
		}
		return nil
	})
	t.Logf("%d async invocations sent and metered in %s", nFast+nSlow, time.Since(began).Round(time.Millisecond))
	asked := time.Now()
	c.getJSON("/v1/billing?since=1h", 200, &b)
	t.Logf("a bill over %d meter records took %s", b.Total.Requests, time.Since(asked).Round(time.Millisecond))

	// Sum the meter records independently, straight from the stream.
	nc, err := nats.Connect(c.ep.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, events.StreamMeters, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	type sums struct{ requests, mbms int64 }
	got := map[string]*sums{"fast": {}, "slow": {}}
	var total sums
	for total.requests < nFast+nSlow {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("after %d meter records: %v", total.requests, err)
		}
		var r events.Meter
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		s := got[r.Function]
		s.requests++
		s.mbms += r.BilledMs * int64(r.MemoryMB)
		total.requests++
		total.mbms += r.BilledMs * int64(r.MemoryMB)
	}
	if len(b.Functions) != 2 {
		t.Fatalf("bill lines %+v", b.Functions)
	}
	for _, l := range b.Functions {
		s := got[l.Function]
		if l.Requests != s.requests || l.MBms != s.mbms || l.GBSeconds != float64(s.mbms)/1024/1000 {
			t.Errorf("%s: bill %d requests, %d MB·ms, %v GB-s; records %d, %d", l.Function, l.Requests, l.MBms, l.GBSeconds, s.requests, s.mbms)
		}
		if !near(l.RequestCost, float64(s.requests)*0.2/1e6) || !near(l.ComputeCost, l.GBSeconds*billing.DefaultPerGBSecond) || !near(l.Cost, l.RequestCost+l.ComputeCost) {
			t.Errorf("%s: costs %+v", l.Function, l)
		}
	}
	if got["fast"].requests != nFast || got["slow"].requests != nSlow {
		t.Errorf("records: fast %d, slow %d", got["fast"].requests, got["slow"].requests)
	}
	if b.Total.Requests != total.requests || b.Total.MBms != total.mbms || b.Total.GBSeconds != float64(total.mbms)/1024/1000 || b.Currency != "USD" {
		t.Errorf("total %+v; records %d requests, %d MB·ms", b.Total, total.requests, total.mbms)
	}
	if want := float64(total.requests)*0.2/1e6 + b.Total.GBSeconds*billing.DefaultPerGBSecond; !near(b.Total.Cost, want) || b.Total.FreeTierApplied.Amount != 0 {
		t.Errorf("total cost %v, want %v", b.Total.Cost, want)
	}
}

func TestDeadLetterRedriveAfterFix(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	c.deploy("brittle", "python", "main.handler", "main.py",
		"def handler(event, context):\n    raise RuntimeError('broken on purpose')\n", map[string]any{"retries": 1})
	id := c.invoke("brittle", `{"order": 42}`, true)
	var list wire.DeadLetters
	testkit.Eventually(t, 30*time.Second, func() error { // one retry after a second's backoff
		c.getJSON("/v1/functions/brittle/dlq", 200, &list)
		if len(list.Events) != 1 {
			return fmt.Errorf("dlq holds %d events", len(list.Events))
		}
		return nil
	})
	d := list.Events[0]
	if d.ID != id || d.Attempts != 2 || d.Outcome != events.OutcomeError || d.Error == nil || !strings.Contains(d.Error.Message, "broken on purpose") || d.FailedAt.IsZero() {
		t.Fatalf("dead letter %+v (error %+v)", d, d.Error)
	}
	var full events.DeadLetter
	c.getJSON(fmt.Sprintf("/v1/functions/brittle/dlq/%d", d.Seq), 200, &full)
	if strings.ReplaceAll(string(full.Data), " ", "") != `{"order":42}` || full.Attributes["id"] != id || full.Attributes["type"] != events.TypeInvoke {
		t.Fatalf("shown: data %s attributes %v", full.Data, full.Attributes)
	}
	c.getJSON("/v1/functions/brittle/dlq/abc", 400, nil)
	c.getJSON(fmt.Sprintf("/v1/functions/brittle/dlq/%d", d.Seq+100), 404, nil)
	c.getJSON("/v1/functions/nope/dlq", 404, nil)

	// Fix the function, then send the event back: it runs the new version and succeeds.
	c.deploy("brittle", "python", "main.handler", "main.py",
		"def handler(event, context):\n    return {'fixed': event['order']}\n", map[string]any{"retries": 1})
	c.waitLatest("brittle", 2)
	resp, body := c.do(http.MethodPost, "/v1/functions/brittle/dlq/redrive", "")
	var rd wire.Redriven
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &rd) != nil || len(rd.Redriven) != 1 || rd.Redriven[0].ID != id {
		t.Fatalf("redrive: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		var r events.Result
		c.getJSON("/v1/invocations/"+id, 200, &r)
		if r.Status != events.StatusSucceeded || !strings.Contains(string(r.Payload), "42") {
			return fmt.Errorf("invocation after redrive: %+v", r)
		}
		return nil
	})
	c.getJSON("/v1/functions/brittle/dlq", 200, &list)
	if len(list.Events) != 0 {
		t.Fatalf("dlq after redrive: %+v", list.Events)
	}

	// A redriven event that fails again is dead-lettered again, marked; purge empties the queue.
	c.deploy("brittle", "python", "main.handler", "main.py",
		"def handler(event, context):\n    raise RuntimeError('broken again')\n", map[string]any{"retries": 0})
	c.waitLatest("brittle", 3)
	id2 := c.invoke("brittle", `{"order": 43}`, true)
	testkit.Eventually(t, 30*time.Second, func() error {
		c.getJSON("/v1/functions/brittle/dlq", 200, &list)
		if len(list.Events) != 1 {
			_, inv := c.do(http.MethodGet, "/v1/invocations/"+id2, "")
			return fmt.Errorf("dlq holds %d events; the invocation: %s", len(list.Events), inv)
		}
		return nil
	})
	resp, body = c.do(http.MethodPost, fmt.Sprintf("/v1/functions/brittle/dlq/redrive?seq=%d", list.Events[0].Seq), "")
	if resp.StatusCode != 200 {
		t.Fatalf("redrive one: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		c.getJSON("/v1/functions/brittle/dlq", 200, &list)
		if len(list.Events) != 1 || list.Events[0].Redriven != 1 || list.Events[0].ID != id2 {
			return fmt.Errorf("dlq after a failed redrive: %+v", list.Events)
		}
		return nil
	})
	resp, body = c.do(http.MethodDelete, "/v1/functions/brittle/dlq", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"purged":1`) {
		t.Fatalf("purge: %d %s", resp.StatusCode, body)
	}
	c.getJSON("/v1/functions/brittle/dlq", 200, &list)
	if len(list.Events) != 0 {
		t.Fatalf("dlq after purge: %+v", list.Events)
	}
}

func TestLogLinesOfConcurrentInvocationsStayInOrder(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	c.deploy("chatty", "python", "main.handler", "main.py", `import sys
def handler(event, context):
    for i in range(40):
        print("tag=%s n=%d" % (event["tag"], i), flush=True)
        if i % 10 == 0:
            print("tag=%s stderr n=%d" % (event["tag"], i), file=sys.stderr, flush=True)
    return event["tag"]
`, map[string]any{"max": 6})
	const n = 12
	tags := make(map[string]string, n) // invocation id → tag
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			tag := fmt.Sprintf("t%02d", i)
			id := c.invoke("chatty", `{"tag":"`+tag+`"}`, false)
			mu.Lock()
			tags[id] = tag
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(tags) != n {
		t.Fatalf("%d invocation ids for %d invocations", len(tags), n)
	}
	type seen struct{ next, lines int }
	testkit.Eventually(t, 30*time.Second, func() error {
		resp, body := c.do(http.MethodGet, "/v1/functions/chatty/logs?since=10m&grep=n%3D", "")
		if resp.StatusCode != 200 {
			return fmt.Errorf("logs: %d %s", resp.StatusCode, body)
		}
		per := map[string]*seen{}
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var l events.LogLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("log line %q: %v", sc.Text(), err)
			}
			if !strings.Contains(l.Message, "n=") {
				t.Fatalf("--grep let through %q", l.Message)
			}
			tag, ok := tags[l.InvocationID]
			if !ok || !strings.HasPrefix(l.Message, "tag="+tag+" ") {
				t.Fatalf("line %q tagged with invocation %s (tag %q)", l.Message, l.InvocationID, tag)
			}
			if l.Stream != "stdout" {
				continue
			}
			s := per[l.InvocationID]
			if s == nil {
				s = &seen{}
				per[l.InvocationID] = s
			}
			if want := fmt.Sprintf("tag=%s n=%d", tag, s.next); l.Message != want {
				t.Fatalf("invocation %s: line %q, want %q", l.InvocationID, l.Message, want)
			}
			s.next++
		}
		for id := range tags {
			if per[id] == nil || per[id].next != 40 {
				return fmt.Errorf("invocation %s has not all its lines yet", id)
			}
		}
		return nil
	})
}

// near compares amounts to the bill's rounding, 1e-12 USD.
func near(a, b float64) bool { return math.Abs(a-b) <= 1.5e-12 }

// An async invocation's telemetry is its meter record and the records of its printed lines,
// in batches: through the logs API each invocation of two functions run at once reads START,
// its lines in order, END and REPORT, with its id, and the streams hold far fewer records than
// lines.
func TestLogsOfInterleavedInvocationsThroughTheAPI(t *testing.T) {
	c := client{t, up(t, t.TempDir(), false)}
	const printer = `import time
def handler(event, context):
    for i in range(20):
        print("%s n=%d" % (event["tag"], i), flush=True)
        if i == 10:
            time.sleep(0.05)
    return event["tag"]
`
	const quiet = "def handler(event, context):\n    return 1\n"
	c.deploy("printer", "python", "main.handler", "main.py", printer, map[string]any{"max": 4})
	c.deploy("echoer", "python", "main.handler", "main.py", printer, map[string]any{"max": 4})
	c.deploy("silent", "python", "main.handler", "main.py", quiet, nil)
	const n = 6
	tags := map[string]string{} // invocation id → tag
	fnOf := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		for _, fn := range []string{"printer", "echoer"} {
			wg.Go(func() {
				tag := fmt.Sprintf("%s-%d", fn, i)
				id := c.invoke(fn, `{"tag":"`+tag+`"}`, true)
				mu.Lock()
				tags[id], fnOf[id] = tag, fn
				mu.Unlock()
			})
		}
	}
	for range n {
		c.invoke("silent", `{}`, true)
	}
	wg.Wait()

	for _, fn := range []string{"printer", "echoer"} {
		testkit.Eventually(t, 60*time.Second, func() error {
			resp, body := c.do(http.MethodGet, "/v1/functions/"+fn+"/logs?since=10m", "")
			if resp.StatusCode != 200 {
				return fmt.Errorf("logs: %d %s", resp.StatusCode, body)
			}
			// Each invocation's lines, once its meter record is stored (START comes with it):
			// START, its lines in order, END, REPORT.
			per := map[string][]string{}
			sc := bufio.NewScanner(strings.NewReader(body))
			for sc.Scan() {
				var l events.LogLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("log line %q: %v", sc.Text(), err)
				}
				if _, ok := tags[l.InvocationID]; !ok || fnOf[l.InvocationID] != fn || l.Function != fn {
					if l.Stream == "stdout" {
						t.Fatalf("line %+v of no invocation of %s", l, fn)
					}
					continue
				}
				msg := l.Message
				if strings.HasPrefix(msg, "REPORT RequestId: "+l.InvocationID+" Duration: ") && strings.Contains(msg, " Outcome: ok") {
					msg = "REPORT"
				}
				per[l.InvocationID] = append(per[l.InvocationID], msg)
			}
			for id, tag := range tags {
				if fnOf[id] != fn {
					continue
				}
				want := []string{"START RequestId: " + id + " Version: 1"}
				for i := range 20 {
					want = append(want, fmt.Sprintf("%s n=%d", tag, i))
				}
				want = append(want, "END RequestId: "+id, "REPORT")
				if got := per[id]; strings.Join(got, "\n") != strings.Join(want, "\n") {
					return fmt.Errorf("%s reads:\n%s", tag, strings.Join(got, "\n"))
				}
			}
			return nil
		})
	}

	// Count the records: n invocations of each printer print 20 lines each.
	nc, err := nats.Connect(c.ep.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	count := func(stream, subject string) int { return bustest.Stored(t, js, stream, subject) }
	// The silent function's events are not waited for above: wait for their meter records.
	testkit.Eventually(t, 60*time.Second, func() error {
		if got := count(events.StreamMeters, events.MetersSubject("silent")); got < n {
			return fmt.Errorf("silent: %d meter records so far, want %d", got, n)
		}
		return nil
	})
	for _, fn := range []string{"printer", "echoer", "silent"} {
		logs, meters := count(events.StreamLogs, events.LogsSubject(fn)), count(events.StreamMeters, events.MetersSubject(fn))
		t.Logf("%s: %d invocations stored %d meter records and %d log records (%d lines printed)", fn, n, meters, logs, map[bool]int{true: 20 * n}[fn != "silent"])
		if meters != n {
			t.Errorf("%s: %d meter records, want %d", fn, meters, n)
		}
		if fn == "silent" && logs != 0 || fn != "silent" && logs >= 20*n/2 {
			t.Errorf("%s: %d log records for %d invocations", fn, logs, n)
		}
	}
}
