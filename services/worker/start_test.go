package worker_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/testkit"
)

// pid reads the process id the echo handler reports.
func pid(t *testing.T, r events.Result) float64 {
	t.Helper()
	var got struct {
		Env string  `json:"env"`
		PID float64 `json:"pid"`
	}
	if r.Outcome != events.OutcomeOK {
		t.Fatalf("invoke: %+v %+v", r, r.Error)
	}
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatalf("payload %s: %v", r.Payload, err)
	}
	return got.PID
}

func prestarted(t *testing.T, f *fixture, runtime string, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := f.w.Prestarted(runtime); got != n {
			return fmt.Errorf("%d pre-started %s processes, want %d", got, runtime, n)
		}
		return nil
	})
}

func TestColdStartTakesAPrestartedProcessWithTheFunctionsEnv(t *testing.T) {
	f := startWith(t, map[string]int{"python": 1})
	prestarted(t, f, "python", 1)
	v := f.deploy(t, "pooled", echo, events.Config{Env: map[string]string{"GREETING": "from the pool"}})
	var pids []float64
	for i := range 2 {
		r := f.sync(t, v, fmt.Sprintf(`{"n":%d}`, i))
		pids = append(pids, pid(t, r))
		if !strings.Contains(string(r.Payload), `"env": "from the pool"`) && !strings.Contains(string(r.Payload), `"env":"from the pool"`) {
			t.Fatalf("the function's variable did not reach the pre-started process: %s", r.Payload)
		}
	}
	if pids[0] != pids[1] {
		t.Fatalf("pids %v: the specialised instance was not reused", pids)
	}
	meters := meterRecords(t, f.bus.JS, "pooled", 2)
	if !meters[0].Cold || meters[0].InitMs <= 0 || meters[1].Cold {
		t.Fatalf("meters = %+v", meters)
	}
	logs := functionLogs(t, f.bus.JS, "pooled", 8)
	var reports []string
	for _, l := range logs {
		if strings.HasPrefix(l.Message, "REPORT ") {
			reports = append(reports, l.Message)
		}
	}
	if len(reports) != 2 || !strings.Contains(reports[0], "Start: pre-started") || strings.Contains(reports[1], "Init Duration") {
		t.Fatalf("REPORT lines = %q", reports)
	}
	prestarted(t, f, "python", 1) // refilled after the take
}

func TestStartOnlyVariablesStartAProcessForTheFunction(t *testing.T) {
	f := startWith(t, map[string]int{"python": 1})
	prestarted(t, f, "python", 1)
	v := f.deploy(t, "seeded", echo, events.Config{Env: map[string]string{"GREETING": "hi", "PYTHONHASHSEED": "7"}})
	pid(t, f.sync(t, v, `{}`))
	logs := functionLogs(t, f.bus.JS, "seeded", 4)
	reports := 0
	for _, l := range logs {
		if strings.HasPrefix(l.Message, "REPORT ") {
			reports++
			if !strings.Contains(l.Message, "Start: scratch") {
				t.Fatalf("REPORT = %q, want a process started for the function", l.Message)
			}
		}
	}
	if reports != 1 {
		t.Fatalf("%d REPORT lines, want 1: %+v", reports, logs)
	}
	if n := f.w.Prestarted("python"); n != 1 {
		t.Fatalf("%d pre-started processes left, want 1 (not taken)", n)
	}
}

func TestMinKeepsInstancesWarm(t *testing.T) {
	f := startWith(t, map[string]int{})
	v := f.deploy(t, "kept", echo, events.Config{Min: 1, IdleTimeout: events.Duration(time.Second)})
	testkit.Eventually(t, 20*time.Second, func() error {
		if n := f.w.Idle("kept"); n != 1 {
			return fmt.Errorf("%d idle instances, want the min 1", n)
		}
		return nil
	})
	first := pid(t, f.sync(t, v, `{}`))
	// Well past the idle timeout (and the reaper's tick), the min instance is still the one.
	time.Sleep(3 * time.Second) // a sleep, not a poll: the reaper gets its chance and must not take it
	if n := f.w.Idle("kept"); n != 1 {
		t.Fatalf("%d idle instances after the idle timeout, want the min 1", n)
	}
	if again := pid(t, f.sync(t, v, `{}`)); again != first {
		t.Fatalf("pid %v after the idle timeout, want %v: the min instance was reaped", again, first)
	}
	meters := meterRecords(t, f.bus.JS, "kept", 2)
	if meters[0].Cold || meters[1].Cold {
		t.Fatalf("invocations on a min instance recorded cold: %+v", meters)
	}
	if _, err := os.FindProcess(int(first)); err != nil {
		t.Fatal(err)
	}
}

// Java and C# functions start from a pre-started VM too: the first call of each is a cold start
// on the pre-started process (its meter record says so), and the next reuses it warm.
func TestCompiledRuntimesStartFromPrestartedProcesses(t *testing.T) {
	for _, rt := range []struct{ runtime, handler, file, code string }{
		{"java", "example.Hello::handleRequest", "example/Hello.java", `package example;

import java.util.Map;

public class Hello {
    public static Map<String, Object> handleRequest(Map<String, Object> event) {
        return Map.of("hello", event.get("name"), "pid", ProcessHandle.current().pid());
    }
}
`},
		{"dotnet", "Example.Hello::Handle", "Hello.cs", `using System.Collections.Generic;

namespace Example
{
    public static class Hello
    {
        public static Dictionary<string, object> Handle(Dictionary<string, object> evt)
        {
            return new Dictionary<string, object> { { "hello", evt["name"] }, { "pid", System.Diagnostics.Process.GetCurrentProcess().Id } };
        }
    }
}
`},
	} {
		t.Run(rt.runtime, func(t *testing.T) {
			f := startWith(t, map[string]int{rt.runtime: 1})
			prestarted(t, f, rt.runtime, 1)
			name := "hello-" + rt.runtime
			v := f.deployFile(t, name, rt.file, rt.code, events.Config{Runtime: rt.runtime, Handler: rt.handler})
			var pids []float64
			for range 2 {
				r := f.sync(t, v, `{"name":"Ada"}`)
				var got struct {
					Hello string  `json:"hello"`
					PID   float64 `json:"pid"`
				}
				if r.Outcome != events.OutcomeOK || json.Unmarshal(r.Payload, &got) != nil || got.Hello != "Ada" {
					t.Fatalf("call: %+v %s %+v", r, r.Payload, r.Error)
				}
				pids = append(pids, got.PID)
			}
			if pids[0] != pids[1] {
				t.Fatalf("pids %v: the specialised process was not reused", pids)
			}
			meters := meterRecords(t, f.bus.JS, name, 2)
			if !meters[0].Cold || meters[0].ColdStart != "pre-started" || meters[1].Cold {
				t.Fatalf("meters = %+v, want a cold start on a pre-started process, then a warm call", meters)
			}
		})
	}
}
