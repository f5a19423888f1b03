package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// TestScaleFromZeroLatency measures, through the gateway, a synchronous invocation of a function
// that has no instance (the worker starts one from its warm pool when the event arrives, no
// scaler tick involved) against invocations of the same function once its instance runs.
func TestScaleFromZeroLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts interpreters")
	}
	c := client{t, up(t, t.TempDir(), false)}
	const fns, warmRuns = 5, 10
	invoke := func(name string) time.Duration {
		t.Helper()
		start := time.Now()
		resp, body := c.do(http.MethodPost, "/v1/functions/"+name+"/invocations", `{"n":1}`)
		took := time.Since(start)
		if resp.StatusCode != 200 || !strings.Contains(body, `"n"`) {
			t.Fatalf("invoke %s: %d %s", name, resp.StatusCode, body)
		}
		return took
	}
	for _, rt := range []struct{ runtime, handler, file, code string }{
		{"python", "main.handler", "main.py", "def handler(event, context):\n    return event\n"},
		{"nodejs", "index.handler", "index.js", "exports.handler = async (event) => event;\n"},
	} {
		var cold, warm []time.Duration
		for i := range fns {
			name := fmt.Sprintf("zero-%s-%d", rt.runtime, i)
			c.deploy(name, rt.runtime, rt.handler, rt.file, rt.code, nil)
			cold = append(cold, invoke(name))
			for range warmRuns {
				warm = append(warm, invoke(name))
			}
		}
		slices.Sort(cold)
		slices.Sort(warm)
		med := func(d []time.Duration) time.Duration { return d[len(d)/2] }
		t.Logf("%s, sync through the gateway: from zero median %s (min %s, max %s, n=%d); warm median %s (p90 %s, n=%d); added %s",
			rt.runtime, med(cold).Round(time.Microsecond), cold[0].Round(time.Microsecond), cold[len(cold)-1].Round(time.Microsecond), len(cold),
			med(warm).Round(time.Microsecond), warm[len(warm)*9/10].Round(time.Microsecond), len(warm),
			(med(cold) - med(warm)).Round(time.Microsecond))
	}
}

// TestCallsSecondsApartKeepTheirInstanceWarm: calls several seconds apart, sync and async, each
// gone before a scaler tick could see it as lag, find the instance the first one started: the
// workers report it as active, so the scaler counts it and holds it for the idle window.
func TestCallsSecondsApartKeepTheirInstanceWarm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts interpreters")
	}
	c := client{t, up(t, t.TempDir(), false)}
	c.deploy("steady", "python", "main.handler", "main.py", "def handler(event, context):\n    return event\n", nil)
	const calls = 4
	for i := range calls {
		if i > 0 {
			time.Sleep(6 * time.Second) // a sleep is the point: calls past the workers' scale-down grace
		}
		header := []string{}
		want := http.StatusOK
		if i%2 == 1 {
			header, want = []string{"X-Sluice-Invocation-Type", "Event"}, http.StatusAccepted
		}
		if resp, body := c.do(http.MethodPost, "/v1/functions/steady/invocations", `{"n":1}`, header...); resp.StatusCode != want {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
	}
	var summary struct {
		Summary struct {
			Invocations int `json:"invocations"`
			ColdStarts  int `json:"coldStarts"`
		} `json:"summary"`
	}
	testkit.EventuallyEvery(t, 5*time.Second, 50*time.Millisecond, func() error {
		resp, body := c.do(http.MethodGet, "/v1/functions/steady/metrics?since=5m", "")
		if resp.StatusCode != 200 {
			t.Fatalf("metrics: %d %s", resp.StatusCode, body)
		}
		if err := json.Unmarshal([]byte(body), &summary); err != nil {
			t.Fatal(err)
		}
		if n := summary.Summary.Invocations; n != calls {
			return fmt.Errorf("%d invocations, want %d", n, calls)
		}
		return nil
	})
	if s := summary.Summary; s.Invocations != calls || s.ColdStarts != 1 {
		t.Fatalf("%d invocations with %d cold starts, want %d with 1", s.Invocations, s.ColdStarts, calls)
	}
}
