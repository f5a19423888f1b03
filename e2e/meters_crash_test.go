package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// chattyPy prints 2000 lines per call at once, so telemetry is in flight when a process dies.
const chattyPy = `
import sys
def handler(event, context):
    sys.stdout.write("".join("line %d of %s\n" % (i, context.aws_request_id) for i in range(2000)))
    return "ok"
`

// burstN is the async invocations of a crash test.
const burstN = 600

// A worker killed with SIGKILL mid-burst loses no meter record: once another worker finished
// the burst, every accepted invocation has its record, no attempt has two, and the bill is their
// sum.
func TestMetersSurviveAWorkerKilledMidBurst(t *testing.T) {
	s := newSite(t)
	n := s.start(t, "--no-worker")
	deployInline(t, n, "tally", chattyPy)
	first := serveWorker(t, n)
	_, js := natsClient(t, n.NATSURL)
	ids := burst(t, n, "tally", burstN)
	waitMeters(t, js, "tally", burstN/3)
	first.kill()
	t.Logf("worker killed with %d meter records stored", meterCount(t, js, "tally"))
	serveWorker(t, n)
	checkMeters(t, n, js, "tally", ids)
}

// The same with the whole node (its embedded bus, gateway and worker) killed mid-burst and
// started again on its data.
func TestMetersSurviveANodeKilledMidBurst(t *testing.T) {
	s := newSite(t)
	n := s.start(t)
	deployInline(t, n, "tally", chattyPy)
	nc, js := natsClient(t, n.NATSURL)
	ids := burst(t, n, "tally", burstN)
	waitMeters(t, js, "tally", burstN/3)
	n.kill()
	nc.Close()
	n = s.start(t)
	_, js = natsClient(t, n.NATSURL)
	t.Logf("node killed and started again with %d meter records stored", meterCount(t, js, "tally"))
	checkMeters(t, n, js, "tally", ids)
}

// burst sends count async invocations of fn through the API from 8 clients and returns the ids
// of those accepted (all of them, or the test fails).
func burst(t *testing.T, n *node, fn string, count int) []string {
	t.Helper()
	var (
		mu   sync.Mutex
		ids  []string
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan struct{})
	client := &http.Client{Timeout: cliDeadline}
	for range 8 {
		wg.Go(func() {
			for range next {
				id, err := sendAsync(t.Context(), client, n, fn)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids = append(ids, id)
				}
				mu.Unlock()
			}
		})
	}
	for range count {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d invocations refused, the first: %v", len(errs), count, errs[0])
	}
	return ids
}

func sendAsync(ctx context.Context, client *http.Client, n *node, fn string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/v1/functions/"+fn+"/invocations", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	req.Header.Set("X-Sluice-Invocation-Type", "Event")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var acc struct {
		InvocationID string `json:"invocationId"`
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || acc.InvocationID == "" {
		return "", fmt.Errorf("202 without an invocationId: %v", err)
	}
	return acc.InvocationID, nil
}

// meterCount is the number of fn's meter records stored now.
func meterCount(t *testing.T, js jetstream.JetStream, fn string) int {
	t.Helper()
	s, err := js.Stream(t.Context(), events.StreamMeters)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context(), jetstream.WithSubjectFilter(events.MetersSubject(fn)))
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Subjects[events.MetersSubject(fn)])
}

// waitMeters waits until fn has at least count meter records.
func waitMeters(t *testing.T, js jetstream.JetStream, fn string, count int) {
	t.Helper()
	testkit.EventuallyEvery(t, asyncDeadline, 20*time.Millisecond, func() error {
		if got := meterCount(t, js, fn); got < count {
			return fmt.Errorf("%d meter records of %s, waiting for %d", got, fn, count)
		}
		return nil
	})
}

// checkMeters waits until every invocation of ids succeeded, then holds the meter records of fn
// against them and the bill against the records.
func checkMeters(t *testing.T, n *node, js jetstream.JetStream, fn string, ids []string) {
	t.Helper()
	results, err := js.KeyValue(t.Context(), events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	attempts := map[string]int{}
	testkit.EventuallyEvery(t, 3*asyncDeadline, 500*time.Millisecond, func() error {
		waiting := 0
		for _, id := range ids {
			if attempts[id] > 0 {
				continue
			}
			e, err := results.Get(t.Context(), id)
			if err != nil {
				waiting++
				continue
			}
			var r events.Result
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return err
			}
			switch r.Status {
			case events.StatusSucceeded:
				attempts[id] = max(r.Attempts, 1)
			case events.StatusFailed:
				t.Fatalf("invocation %s failed: %+v", id, r)
			default:
				waiting++
			}
		}
		if waiting > 0 {
			return fmt.Errorf("%d of %d invocations not finished", waiting, len(ids))
		}
		return nil
	})

	// The records a late acknowledgement or a redelivery could still add are in within a moment.
	var records []events.Meter
	testkit.EventuallyEvery(t, 30*time.Second, time.Second, func() error {
		before := meterCount(t, js, fn)
		time.Sleep(time.Second) // a sleep, not a poll: the count must hold still for this long
		if after := meterCount(t, js, fn); after != before {
			return fmt.Errorf("meter records still arriving: %d, then %d", before, after)
		}
		records = readMeters(t, js, fn, before)
		return nil
	})

	type run struct {
		id      string
		attempt int
	}
	seen := map[run]bool{}
	byID := map[string][]events.Meter{}
	var mbms int64
	for _, m := range records {
		r := run{m.InvocationID, m.Attempt}
		if seen[r] {
			t.Errorf("attempt %d of %s has two meter records", m.Attempt, m.InvocationID)
		}
		seen[r] = true
		byID[m.InvocationID] = append(byID[m.InvocationID], m)
		mbms += m.BilledMs * int64(m.MemoryMB)
	}
	lost, reruns := 0, 0
	for _, id := range ids {
		ms := byID[id]
		if len(ms) == 0 {
			lost++
			continue
		}
		if reruns += len(ms) - 1; len(ms) > 1 && reruns <= 3 {
			t.Logf("invocation %s (%d attempts) ran again after the kill: %+v", id, attempts[id], ms)
		}
		final := false
		for _, m := range ms {
			if m.Attempt > attempts[id] {
				t.Errorf("invocation %s: a meter record of attempt %d, past its %d attempts", id, m.Attempt, attempts[id])
			}
			final = final || (m.Attempt == attempts[id] && m.Outcome == events.OutcomeOK)
		}
		if !final {
			t.Errorf("invocation %s succeeded in attempt %d, and has no ok meter record of it: %+v", id, attempts[id], ms)
		}
		delete(byID, id)
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged invocations have no meter record", lost, len(ids))
	}
	if len(byID) > 0 {
		t.Errorf("meter records of %d invocations never accepted", len(byID))
	}
	t.Logf("%d invocations, %d meter records (%d of runs a killed process had started)", len(ids), len(records), reruns)

	r := n.request(t, http.MethodGet, "/v1/billing?since=1h", nil, false)
	var bill struct {
		Functions []struct {
			Function string `json:"function"`
			Requests int64  `json:"requests"`
			MBms     int64  `json:"billedMBms"`
		} `json:"functions"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &bill) != nil {
		t.Fatalf("GET /v1/billing: %d %s", r.status, r.body)
	}
	for _, l := range bill.Functions {
		if l.Function == fn {
			if l.Requests != int64(len(records)) || l.MBms != mbms {
				t.Errorf("bill of %s: %d requests, %d MB·ms; the meter records sum to %d and %d", fn, l.Requests, l.MBms, len(records), mbms)
			}
			return
		}
	}
	t.Errorf("the bill has no line for %s: %s", fn, r.body)
}

// readMeters reads the count meter records of fn stored now.
func readMeters(t *testing.T, js jetstream.JetStream, fn string, count int) []events.Meter {
	t.Helper()
	c, err := js.OrderedConsumer(t.Context(), events.StreamMeters, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.MetersSubject(fn)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Meter
	for len(out) < count {
		m, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("%d of %d meter records read", len(out), count)
		}
		if err != nil {
			t.Fatal(err)
		}
		var r events.Meter
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
