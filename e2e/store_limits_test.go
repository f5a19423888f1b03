package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// queuedPy runs a little while, so that asynchronous calls pile up in the invocation queue.
const queuedPy = `import time


def handler(event, context):
    time.sleep(0.2)
    return {"padded": len(event.get("pad", ""))}
`

// smallDisk mounts a tmpfs of the size (mount's size option, e.g. 96m) on the site's data
// folder, unmounted when the test ends (after the node is killed). It skips the test when it
// cannot mount one.
func smallDisk(t *testing.T, s *site, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a node on a small filesystem needs root to mount a tmpfs of " + size + " (run the e2e tests as root)")
	}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", s.data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs of %s on the data folder (%v: %s)", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", s.data).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", s.data, err, out)
		}
	})
}

// firstHealth polls /healthz from the moment the node starts and returns its first answer and
// how long after the start it came.
func firstHealth(t *testing.T, n *node, started time.Time) (response, time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var first response
	var after time.Duration
	testkit.EventuallyEvery(t, 30*time.Second-time.Since(started), 20*time.Millisecond, func() error {
		resp, err := c.Get(n.URL + "/healthz")
		if err != nil {
			select {
			case <-n.done:
				t.Fatalf("sluice up exited before /healthz answered: %v\n%s", n.waitErr, n.out.tail(40))
			default:
			}
			return fmt.Errorf("/healthz gave no answer: %w", err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		b, _ := json.Marshal(body)
		first, after = response{status: resp.StatusCode, header: resp.Header, body: b}, time.Since(started)
		return nil
	})
	return first, after
}

// launchAndAsk starts the site's node and returns it with its first /healthz answer. (A node
// that never answers fails firstHealth's bound; how fast it answers is the bench's business.)
func launchAndAsk(t *testing.T, s *site) (*node, response) {
	t.Helper()
	started := time.Now()
	n := s.launch(t)
	first, after := firstHealth(t, n, started)
	t.Logf("first /healthz answer %s after the start: %d %s", after.Round(time.Millisecond), first.status, first.body)
	return n, first
}

// A node on a 96 MiB filesystem comes up with a store sized to it: /healthz answers at once,
// asynchronous calls that fill the invocation queue get 507 with a clear message, the node stays
// up, and every call that got a 202 runs.
func TestSmallDiskNodeFillsAndRecovers(t *testing.T) {
	s := newSite(t)
	smallDisk(t, s, "96m")
	n, first := launchAndAsk(t, s)
	if first.status != http.StatusOK && first.status != http.StatusServiceUnavailable {
		t.Errorf("/healthz while starting: %d %s", first.status, first.body)
	}
	n.waitReady(t)
	if !strings.Contains(n.out.tail(200), `msg="store sized" max="48.0 MiB"`) {
		t.Errorf("the node did not size its store to half of 96 MiB:\n%s", n.out.tail(40))
	}

	deployInline(t, n, "slow", queuedPy, "--max", "1", "--timeout", "30s")
	pad := strings.Repeat("x", 1<<20)
	body, _ := json.Marshal(map[string]string{"pad": pad})
	var accepted []string
	refused := 0
	for i := 0; i < 200 && refused < 3; i++ {
		r := n.request(t, http.MethodPost, "/v1/functions/slow/invocations", body, false, "X-Sluice-Invocation-Type", "Event")
		switch r.status {
		case http.StatusAccepted:
			var a struct{ InvocationID string }
			if err := json.Unmarshal(r.body, &a); err != nil || a.InvocationID == "" {
				t.Fatalf("202 without an invocation id: %s", r.body)
			}
			accepted = append(accepted, a.InvocationID)
		case http.StatusInsufficientStorage:
			refused++
			if refused == 1 {
				t.Logf("after %d accepted calls: %d %s (Retry-After %q)", len(accepted), r.status, r.body, r.header.Get("Retry-After"))
			}
			if !strings.Contains(string(r.body), "invocation queue is full") || !strings.Contains(string(r.body), "store_full") {
				t.Errorf("507 without a clear message: %s", r.body)
			}
		default:
			t.Fatalf("async call %d: %d %s", i, r.status, r.body)
		}
	}
	if refused == 0 {
		t.Fatalf("%d async calls of 1 MiB on a 96 MiB disk were all accepted", len(accepted))
	}
	if len(accepted) < 5 {
		t.Fatalf("only %d async calls accepted before the queue was full", len(accepted))
	}

	// The node stays up: it answers /healthz and still serves.
	if r := n.request(t, http.MethodGet, "/healthz", nil, true); r.status != http.StatusOK {
		t.Fatalf("/healthz with a full queue: %d %s", r.status, r.body)
	}
	deployInline(t, n, "echo", echoPy)

	// Every accepted call runs.
	testkit.EventuallyEvery(t, 3*time.Minute, 500*time.Millisecond, func() error {
		pending := 0
		for _, id := range accepted {
			r := n.request(t, http.MethodGet, "/v1/invocations/"+id, nil, false)
			var res struct{ Status, Outcome string }
			_ = json.Unmarshal(r.body, &res)
			if r.status != http.StatusOK || res.Status != "succeeded" {
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d of %d accepted invocations have not succeeded yet", pending, len(accepted))
		}
		return nil
	})
	// With the queue drained, the node takes calls again, and the disk was never full.
	r := n.request(t, http.MethodPost, "/v1/functions/echo/invocations", []byte(`{"again":true}`), false)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "again") {
		t.Fatalf("a call after the queue drained: %d %s", r.status, r.body)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.data, &st); err == nil {
		t.Logf("data folder: %d MiB free of 96", int64(st.Bavail)*int64(st.Bsize)>>20)
	}
	if strings.Contains(n.out.tail(maxOutputLines), "disabling JetStream") {
		t.Errorf("JetStream was disabled:\n%s", n.out.tail(40))
	}
	n.stop(t) // before the tmpfs goes: the sandbox unmounts what it bound from it
}

// A node whose data folder has no room for the smallest store answers /healthz at once with
// 503 and the reason, keeps looking, and comes up once there is room.
func TestNoRoomForStoreWaitsAndSaysWhy(t *testing.T) {
	s := newSite(t)
	smallDisk(t, s, "40m")
	n, first := launchAndAsk(t, s)
	if first.status != http.StatusServiceUnavailable || !strings.Contains(string(first.body), "free") || first.header.Get("Retry-After") == "" {
		t.Fatalf("/healthz on a 40 MiB disk: %d %s, want 503 with the reason", first.status, first.body)
	}
	// Still waiting a while later, and other paths say why too.
	time.Sleep(6 * time.Second) // a sleep, not a poll: the node must still be waiting after a while
	r := n.request(t, http.MethodGet, "/v1/functions", nil, false)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "needs at least 32.0 MiB") {
		t.Fatalf("API on a node without room: %d %s", r.status, r.body)
	}
	select {
	case <-n.done:
		t.Fatalf("the node exited: %v", n.waitErr)
	default:
	}
	// Room appears: the node comes up without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=96m", s.data).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	n.waitReady(t)
	n.ok(t, "list")
	n.stop(t)
}
