package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// counterPy works for $SLEEP seconds, then reports the run to the test's counter: the kind of load (from the environment),
// the CloudEvent id and the event itself. A failed report fails the run, which is then retried.
const counterPy = `import json, os, time, urllib.request


def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    ce = getattr(context, "cloudevent", None) or {}
    rec = {"kind": os.environ["KIND"], "id": ce.get("id") or context.aws_request_id, "event": event}
    req = urllib.request.Request(os.environ["COUNTER"], data=json.dumps(rec).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    return {"echo": event}
`

// counter is a loopback HTTP server that counts the runs functions report, by kind and key: the
// event id, or for queue messages the message's own number. Safe for concurrent use.
type counter struct {
	url  string
	mu   sync.Mutex
	runs map[string]map[string]int
}

func startCounter(t *testing.T) *counter {
	t.Helper()
	c := &counter{runs: map[string]map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec struct {
			Kind  string `json:"kind"`
			ID    string `json:"id"`
			Event struct {
				N *int `json:"n"`
			} `json:"event"`
		}
		if err := json.NewDecoder(r.Body).Decode(&rec); err != nil || rec.Kind == "" || rec.ID == "" {
			http.Error(w, "bad record", http.StatusBadRequest)
			return
		}
		key := rec.ID
		if rec.Kind == "queue" && rec.Event.N != nil {
			key = fmt.Sprint(*rec.Event.N)
		}
		c.mu.Lock()
		if c.runs[rec.Kind] == nil {
			c.runs[rec.Kind] = map[string]int{}
		}
		c.runs[rec.Kind][key]++
		c.mu.Unlock()
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c.url = "http://" + l.Addr().String() + "/run"
	return c
}

// total is the number of runs of a kind.
func (c *counter) total(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.runs[kind] {
		n += v
	}
	return n
}

// of is how often key of kind ran.
func (c *counter) of(kind, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[kind][key]
}

// distinct is the number of keys of a kind that ran, and how many of them ran more than once.
func (c *counter) distinct(kind string) (keys, duplicated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.runs[kind] {
		keys++
		if v > 1 {
			duplicated++
		}
	}
	return keys, duplicated
}

// waitGrowth waits until kind ran n more times than it had when called: the cluster makes
// progress.
func (c *counter) waitGrowth(t *testing.T, kind string, n int, why string) {
	t.Helper()
	from, start := c.total(kind), time.Now()
	testkit.EventuallyEvery(t, 90*time.Second, 100*time.Millisecond, func() error {
		if got := c.total(kind) - from; got < n {
			return fmt.Errorf("%s: %d of %d more %s runs", why, got, n, kind)
		}
		return nil
	})
	t.Logf("%s: %d more %s runs in %s", why, n, kind, time.Since(start).Round(10*time.Millisecond))
}

// syncDeadline bounds one synchronous call of the load: well beyond the gateway's own bound (the
// function's timeout plus the 30 s queue allowance), so that hitting it means a call hung.
const syncDeadline = 60 * time.Second

// load drives a cluster through its gateways, round robin: async invocations, synchronous calls
// and messages on the queue trigger's stream, until stopped. With failover, a call that cannot
// reach a gateway (connection refused or closed: the gateway is stopping) goes to the next one,
// as a load balancer would do.
type load struct {
	gateways []*sluiceRole
	token    string
	failover bool
	client   *http.Client

	mu           sync.Mutex
	next         int
	accepted     []string // async invocation ids answered 202
	refused      []string // why async invocations were not accepted
	syncOK       int
	syncFailed   []string // clear failures of synchronous calls
	syncHung     []string // synchronous calls that got no answer within syncDeadline
	published    []int    // queue messages stored on the source stream
	publishError error

	stop context.CancelFunc
	wg   sync.WaitGroup
}

func startLoad(t *testing.T, gateways []*sluiceRole, token string, failover bool, queue jetstream.JetStream, firstMsg int) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	l := &load{gateways: gateways, token: token, failover: failover, stop: cancel,
		client: &http.Client{Timeout: syncDeadline, Transport: &http.Transport{DisableKeepAlives: true}}}
	every := func(d time.Duration, f func()) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					f()
				}
			}
		}()
	}
	every(80*time.Millisecond, l.async)
	for range 2 {
		every(150*time.Millisecond, l.sync)
	}
	n := firstMsg
	every(120*time.Millisecond, func() {
		m := nats.NewMsg("orders.new")
		m.Data = fmt.Appendf(nil, `{"n": %d}`, n)
		m.Header.Set("Content-Type", "application/json")
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := queue.PublishMsg(pctx, m)
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case err == nil:
			l.published = append(l.published, n)
		case ctx.Err() == nil:
			l.publishError = err
		}
		n++
	})
	return l
}

// end stops the load and waits for every call in flight.
func (l *load) end() {
	l.stop()
	l.wg.Wait()
}

// call posts to a gateway, moving on to the next gateway when this one cannot be reached and
// failover is on.
func (l *load) call(path string, body []byte, header ...string) (*http.Response, []byte, error) {
	l.mu.Lock()
	first := l.next
	l.next++
	l.mu.Unlock()
	var err error
	for i := range len(l.gateways) {
		gw := l.gateways[(first+i)%len(l.gateways)]
		req, _ := http.NewRequest(http.MethodPost, gw.url+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+l.token)
		req.Header.Set("Content-Type", "application/json")
		for j := 0; j+1 < len(header); j += 2 {
			req.Header.Set(header[j], header[j+1])
		}
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, b, rerr
		}
		if !l.failover || timedOut(err) {
			break
		}
	}
	return nil, nil, err
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func (l *load) async() {
	resp, body, err := l.call("/v1/functions/jobs/invocations", []byte(`{"job": true}`), "X-Sluice-Invocation-Type", "Event")
	var acc struct {
		InvocationID string `json:"invocationId"`
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.refused = append(l.refused, err.Error())
	case resp.StatusCode == http.StatusAccepted && json.Unmarshal(body, &acc) == nil && acc.InvocationID != "":
		l.accepted = append(l.accepted, acc.InvocationID)
	default:
		l.refused = append(l.refused, fmt.Sprintf("%d %s", resp.StatusCode, body))
	}
}

func (l *load) sync() {
	start := time.Now()
	resp, body, err := l.call("/v1/functions/echo/invocations", []byte(`{"ping": 1}`))
	l.mu.Lock()
	defer l.mu.Unlock()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err != nil && timedOut(err):
		l.syncHung = append(l.syncHung, fmt.Sprintf("after %s: %v", took, err))
	case err != nil:
		l.syncFailed = append(l.syncFailed, fmt.Sprintf("after %s: %v", took, err))
	case resp.StatusCode == http.StatusOK && resp.Header.Get("X-Sluice-Function-Error") == "" && strings.Contains(string(body), `"echo"`):
		l.syncOK++
	default:
		l.syncFailed = append(l.syncFailed, fmt.Sprintf("after %s: %d %s", took, resp.StatusCode, body))
	}
}

// unclear lists the synchronous failures that do not say what went wrong: an HTTP answer other
// than the JSON error body ({"error": {"code", "message"}}) or a function error record.
func (l *load) unclear() []string {
	var out []string
	for _, f := range l.syncFailed {
		if strings.Contains(f, `"error"`) && strings.Contains(f, `"message"`) || strings.Contains(f, "errorMessage") ||
			strings.Contains(f, "connection refused") || strings.Contains(f, "connection reset") || strings.Contains(f, "EOF") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// summary counts reasons, for the test log.
func summary(reasons []string) string {
	counts := map[string]int{}
	for _, r := range reasons {
		if strings.HasPrefix(r, "after ") {
			_, r, _ = strings.Cut(r, ": ") // drop "after DURATION"
		}
		r = strings.TrimSpace(r)
		if len(r) > 120 {
			r = r[:120]
		}
		counts[r]++
	}
	var lines []string
	for r, n := range counts {
		lines = append(lines, fmt.Sprintf("%4d × %s", n, r))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
