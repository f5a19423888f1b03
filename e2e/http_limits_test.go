package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// napPy sleeps for the seconds its event asks (3 by default).
const napPy = `import time


def handler(event, context):
    time.sleep(event.get("s", 3) if isinstance(event, dict) else 3)
    return "rested"
`

// trickle opens a connection to the node, writes prefix at once and then what one byte per
// second, and returns how long the node kept the connection open (until a write failed or the
// node answered or closed it) and what it answered.
func trickle(t *testing.T, addr, prefix, what string, limit time.Duration) (time.Duration, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte(prefix)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(bufio.NewReader(conn)) // until the node closes the connection
		closed <- string(b)
	}()
	for i := 0; ; i = (i + 1) % len(what) {
		if _, err := conn.Write([]byte{what[i]}); err != nil {
			return time.Since(start), "write: " + err.Error()
		}
		select {
		case answer := <-closed:
			return time.Since(start), answer
		case <-time.After(time.Second):
		}
		if time.Since(start) > limit {
			t.Fatalf("the node kept a connection sending %q a byte a second open for %s", what[:min(20, len(what))], limit)
		}
	}
}

// Slow clients are let go: one that trickles its header is cut off by the header timeout, one
// that trickles its body by the read timeout; a synchronous call that lasts longer than both is
// answered.
func TestSlowClientsAreDisconnected(t *testing.T) {
	n := newSite(t).start(t)
	addr := strings.TrimPrefix(n.URL, "http://")
	deployInline(t, n, "nap", napPy, "--public", "--timeout", "2m")

	t.Run("header a byte a second", func(t *testing.T) {
		t.Parallel()
		took, answer := trickle(t, addr, "", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("a", 200), 30*time.Second)
		t.Logf("closed after %s: %q", took.Round(time.Millisecond), answer)
		if took < 8*time.Second || took > 14*time.Second {
			t.Errorf("a client trickling its header was let go after %s: want the 10s header timeout", took)
		}
	})
	t.Run("body a byte a second", func(t *testing.T) {
		t.Parallel()
		head := "POST /fn/nap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
		took, answer := trickle(t, addr, head, `{"s": 0, "pad": "`+strings.Repeat("b", 99970)+`"}`, 100*time.Second)
		t.Logf("closed after %s: %q", took.Round(time.Millisecond), answer)
		if took < 55*time.Second || took > 70*time.Second {
			t.Errorf("a client trickling its body was let go after %s: want the 1m read timeout", took)
		}
	})
	t.Run("a sync call longer than the timeouts is answered", func(t *testing.T) {
		t.Parallel()
		started := time.Now()
		r := n.request(t, http.MethodPost, "/v1/functions/nap/invocations", []byte(`{"s": 75}`), false)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "rested") {
			t.Fatalf("a 75 s call: %d %s after %s", r.status, r.body, time.Since(started))
		}
		t.Logf("a 75 s synchronous call answered after %s", time.Since(started).Round(time.Millisecond))
	})
}

// A gateway lets MaxWaiting synchronous calls of one function wait; more get 429 with
// Retry-After at once.
func TestSyncCallsWaitingAreCapped(t *testing.T) {
	n := newSite(t).start(t, "--max-waiting", "2")
	deployInline(t, n, "nap", napPy, "--max", "1")
	n.ok(t, "invoke", "nap", "--data", `{"s": 0}`) // warm: the calls below wait for the nap, not a start

	const calls = 6
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		after []string
	)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started := time.Now()
			r := n.request(t, http.MethodPost, "/fn/nap", []byte(`{"s": 2}`), false, "Content-Type", "application/json")
			mu.Lock()
			defer mu.Unlock()
			codes[r.status]++
			if r.status == http.StatusTooManyRequests {
				after = append(after, r.header.Get("Retry-After"))
				if took := time.Since(started); took > 2*time.Second {
					t.Errorf("a 429 came after %s: want at once", took)
				}
				if !strings.Contains(string(r.body), "too_many_requests") || !strings.Contains(string(r.body), "synchronous calls waiting") {
					t.Errorf("429 body: %s", r.body)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("answers: %v, Retry-After %v", codes, after)
	if codes[http.StatusOK] != 2 || codes[http.StatusTooManyRequests] != calls-2 {
		t.Fatalf("answers %v: want 2 x 200 and %d x 429", codes, calls-2)
	}
	for _, a := range after {
		if a == "" {
			t.Errorf("a 429 without Retry-After")
		}
	}
	// The cap is per function and frees as calls end.
	if r := n.request(t, http.MethodPost, "/fn/nap", []byte(`{"s": 0}`), false); r.status != http.StatusOK {
		t.Fatalf("a call after the others ended: %d %s", r.status, r.body)
	}
}

// Public function URLs take asynchronous calls without the token only from functions deployed
// with --public-async.
func TestPublicURLAsyncNeedsConsent(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "open", echoPy, "--public")
	event := []string{"X-Sluice-Invocation-Type", "Event"}

	if r := n.request(t, http.MethodPost, "/fn/open", []byte(`{"a":1}`), true); r.status != http.StatusOK {
		t.Fatalf("sync call without the token on a public URL: %d %s", r.status, r.body)
	}
	r := n.request(t, http.MethodPost, "/fn/open", []byte(`{"a":1}`), true, event...)
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "--public-async") {
		t.Fatalf("async call without the token: %d %s, want 403 naming --public-async", r.status, r.body)
	}
	if r := n.request(t, http.MethodPost, "/fn/open", []byte(`{"a":1}`), false, event...); r.status != http.StatusAccepted {
		t.Fatalf("async call with the token: %d %s", r.status, r.body)
	}
	if r := n.sluice(t, "deploy", "half", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy, "--public-async"); r.code == 0 || !strings.Contains(r.stderr, "needs public") {
		t.Fatalf("--public-async without --public: %s", r)
	}

	deployInline(t, n, "open", echoPy, "--public", "--public-async")
	r = n.request(t, http.MethodPost, "/fn/open", []byte(`{"a":2}`), true, event...)
	if r.status != http.StatusAccepted {
		t.Fatalf("async call without the token, --public-async: %d %s", r.status, r.body)
	}
	var a struct{ InvocationID string }
	_ = json.Unmarshal(r.body, &a)
	res := waitInvocation(t, n, a.InvocationID)
	if res.Status != "succeeded" {
		t.Fatalf("the public async call: %+v", res)
	}
	if got := n.ok(t, "get", "open").stdout; !strings.Contains(got, "public async") {
		t.Errorf("get does not show public async:\n%s", got)
	}
}
