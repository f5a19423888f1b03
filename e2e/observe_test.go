package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"
	sluicenode "sluice.dev/services/node"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a /metrics page and parses it with Prometheus's text parser.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// sample is the value of the counter, gauge or histogram count in fams named name whose labels
// include labels; 0 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

const pickyPy = `def handler(event, context):
    print("handling", event.get("n"))
    if event.get("fail"):
        raise ValueError("refused %s" % event.get("n"))
    return {"n": event.get("n")}
`

func TestObserveMetricsBillAndLogs(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "picky", pickyPy, "--memory", "256")
	const ok, bad = 6, 2
	for i := range ok + bad {
		r := n.sluice(t, "invoke", "picky", "--data", fmt.Sprintf(`{"n": %d, "fail": %t}`, i, i >= ok))
		if (r.code == 0) != (i < ok) {
			t.Fatalf("invoke %d: %s", i, r)
		}
	}

	// Prometheus: the node's /metrics, with the token, parsed by Prometheus's own parser.
	fams := scrape(t, n.URL+"/metrics", n.Token)
	for outcome, want := range map[string]float64{"ok": ok, "error": bad} {
		if got := sample(fams, "sluice_invocations_total", map[string]string{"function": "picky", "outcome": outcome}); got != want {
			t.Errorf("sluice_invocations_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if got := sample(fams, "sluice_invocation_duration_seconds", map[string]string{"function": "picky"}); got != ok+bad {
		t.Errorf("duration histogram count %v, want %d", got, ok+bad)
	}
	if got := sample(fams, "sluice_cold_starts_total", map[string]string{"function": "picky"}); got < 1 {
		t.Errorf("cold starts %v, want at least 1", got)
	}
	// The node runs its goroutines on half the CPUs; the other half is the instances'.
	if got, want := sample(fams, "go_sched_gomaxprocs_threads", nil), sluicenode.Procs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); got != float64(want) {
		t.Errorf("the node's GOMAXPROCS is %v, want %d", got, want)
	}
	if r := n.request(t, http.MethodGet, "/metrics", nil, true); r.status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", r.status)
	}

	// The CLI's summary and the bill count the same invocations from the meter records.
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		var v struct {
			Summary struct {
				Invocations, Errors int
				Outcomes            map[string]int
			}
		}
		r := n.ok(t, "metrics", "picky", "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			return err
		}
		if v.Summary.Invocations != ok+bad || v.Summary.Errors != bad || v.Summary.Outcomes["ok"] != ok {
			return fmt.Errorf("metrics: %s", r.stdout)
		}
		return nil
	})
	if r := n.ok(t, "metrics", "picky", "--since", "1h"); !strings.Contains(r.stdout, "p50") || !strings.Contains(r.stdout, fmt.Sprintf("invocations:  %d", ok+bad)) {
		t.Errorf("metrics text:\n%s", r.stdout)
	}
	var bill struct {
		Currency string
		Total    struct {
			Requests   int64
			BilledMBms int64 `json:"billedMBms"`
			GBSeconds  float64
		}
	}
	if r := n.ok(t, "bill", "-o", "json"); json.Unmarshal([]byte(r.stdout), &bill) != nil || bill.Total.Requests != ok+bad || bill.Currency != "USD" ||
		bill.Total.BilledMBms <= 0 || bill.Total.BilledMBms%256 != 0 || bill.Total.GBSeconds != float64(bill.Total.BilledMBms)/1024/1000 {
		t.Errorf("bill: %s", r.stdout)
	}
	if r := n.ok(t, "bill", "--since", "1h", "--csv"); !strings.HasPrefix(r.stdout, "function,requests,") || !strings.Contains(r.stdout, fmt.Sprintf("picky,%d,", ok+bad)) {
		t.Errorf("bill --csv:\n%s", r.stdout)
	}

	// Logs: --grep filters on the node.
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		r := n.ok(t, "logs", "picky", "--grep", "handling 7")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 1 || !strings.HasSuffix(lines[0], "handling 7") {
			return fmt.Errorf("logs --grep: %q", r.stdout)
		}
		return nil
	})

	// Bad input: clear errors.
	if r := n.sluice(t, "metrics", "nope"); r.code != 1 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("metrics of an unknown function: %s", r)
	}
	if r := n.sluice(t, "bill", "--since", "last-month"); r.code != 2 || !strings.Contains(r.stderr, "--since") {
		t.Errorf("bill --since last-month: %s", r)
	}
}

func TestDeadLetterRedriveThroughTheCLI(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "grumpy", "def handler(event, context):\n    raise RuntimeError('not today')\n", "--retries", "0")
	id := n.ok(t, "invoke", "grumpy", "--async", "--data", `{"day": 3}`).lastLine()
	type letter struct {
		Seq      uint64
		ID       string
		Attempts int
		Error    struct{ ErrorMessage string }
	}
	var list []letter
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		r := n.ok(t, "dlq", "list", "grumpy", "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			return fmt.Errorf("%v: %s", err, r.stdout)
		}
		if len(list) != 1 {
			return fmt.Errorf("dlq list: %s", r.stdout)
		}
		return nil
	})
	if list[0].ID != id || list[0].Attempts != 1 || !strings.Contains(list[0].Error.ErrorMessage, "not today") {
		t.Fatalf("dead letter %+v", list[0])
	}
	if r := n.ok(t, "dlq", "list", "grumpy"); !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "not today") {
		t.Errorf("dlq list:\n%s", r.stdout)
	}
	if r := n.ok(t, "dlq", "show", "grumpy", fmt.Sprint(list[0].Seq)); !strings.Contains(r.stdout, `"day"`) || !strings.Contains(r.stdout, "RuntimeError") {
		t.Errorf("dlq show:\n%s", r.stdout)
	}
	deployInline(t, n, "grumpy", "def handler(event, context):\n    return {'day': event['day'], 'mood': 'fine'}\n", "--retries", "0")
	testkit.EventuallyEvery(t, 20*time.Second, 100*time.Millisecond, func() error { // the node follows the deploy a moment later
		if r := n.sluice(t, "invoke", "grumpy", "--data", `{"day": 0}`); r.code != 0 {
			return fmt.Errorf("the fixed version does not run yet: %s", r)
		}
		return nil
	})
	if r := n.ok(t, "dlq", "redrive", "grumpy"); !strings.Contains(r.stdout, "1 event(s) sent back") {
		t.Errorf("dlq redrive:\n%s", r.stdout)
	}
	testkit.EventuallyEvery(t, 30*time.Second, 200*time.Millisecond, func() error {
		r := n.ok(t, "invocation", id)
		if !strings.Contains(r.stdout, "succeeded") || !strings.Contains(r.stdout, "fine") {
			return fmt.Errorf("invocation after redrive: %s", r.stdout)
		}
		return nil
	})
	if r := n.ok(t, "dlq", "list", "grumpy", "-o", "json"); strings.Contains(r.stdout, id) {
		t.Errorf("dlq after redrive:\n%s", r.stdout)
	}
	if r := n.sluice(t, "dlq", "show", "grumpy", "x"); r.code != 2 {
		t.Errorf("dlq show with a bad seq: %s", r)
	}
	if r := n.ok(t, "dlq", "purge", "grumpy"); !strings.Contains(r.stdout, "purged 0") {
		t.Errorf("dlq purge of an empty queue:\n%s", r.stdout)
	}
}

func TestServeWorkerMetricsListener(t *testing.T) {
	s := newSite(t)
	n := s.start(t, "--no-worker")
	addr := freeAddr(t)
	cmd := exec.Command(s.bin, "serve", "worker", "--nats", n.NATSURL, "--data", t.TempDir(), "--metrics", addr)
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("serve worker output:\n%s", out.String())
		}
	})
	deployInline(t, n, "counted", "def handler(event, context):\n    return 1\n")
	testkit.EventuallyEvery(t, startDeadline, 100*time.Millisecond, func() error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	for range 3 {
		n.ok(t, "invoke", "counted")
	}
	// The worker ran them, so its own listener (no token) counts them.
	fams := scrape(t, "http://"+addr+"/metrics", "")
	if got := sample(fams, "sluice_invocations_total", map[string]string{"function": "counted", "outcome": "ok"}); got != 3 {
		t.Errorf("worker's sluice_invocations_total = %v, want 3", got)
	}
	if _, ok := fams["sluice_telemetry_dropped_total"]; !ok {
		t.Error("worker's /metrics has no sluice_telemetry_dropped_total")
	}
	testkit.EventuallyEvery(t, 20*time.Second, 100*time.Millisecond, func() error { // from its heartbeat
		if got := sample(scrape(t, "http://"+addr+"/metrics", ""), "sluice_worker_memory_budget_megabytes", nil); got <= 0 {
			return fmt.Errorf("worker's memory budget gauge %v", got)
		}
		return nil
	})
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("worker's /metrics has no Go runtime metrics")
	}
}

// lockedBuffer is a bytes.Buffer safe to write from a process and read from the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogsFollowWhileInvoking(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "talker", "def handler(event, context):\n    print('said', event['word'])\n    return event['word']\n")
	cmd := exec.Command(n.site.bin, "logs", "talker", "--follow", "--grep", "said")
	cmd.Env = n.site.env("SLUICE_URL="+n.URL, "SLUICE_TOKEN="+n.Token)
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Invocations made while the follower runs, as from another terminal.
	words := []string{"alpha", "bravo", "charlie"}
	for _, w := range words {
		n.ok(t, "invoke", "talker", "--data", fmt.Sprintf(`{"word": %q}`, w))
	}
	testkit.EventuallyEvery(t, 30*time.Second, 100*time.Millisecond, func() error {
		s := out.String()
		last := -1
		for _, w := range words {
			i := strings.Index(s, "said "+w)
			if i < 0 || i < last {
				return fmt.Errorf("followed output so far:\n%s", s)
			}
			last = i
		}
		return nil
	})
	if s := out.String(); strings.Contains(s, "REPORT") || strings.Count(s, "\n") != len(words) {
		t.Errorf("--grep said let other lines through:\n%s", s)
	}
	// Ctrl-C ends it cleanly.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("logs --follow after Ctrl-C: %v\n%s", waitErr, errb.String())
		}
	case <-time.After(stopDeadline):
		t.Fatal("logs --follow did not stop on Ctrl-C")
	}
}
