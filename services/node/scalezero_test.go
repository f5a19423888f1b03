package node_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
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
