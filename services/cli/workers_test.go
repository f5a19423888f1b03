package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"sluice.dev/events"
)

func TestGetScaleAndWorkers(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	if r := s.ok(t, "workers"); r.stdout != "ID  HOST  INSTANCES  MEMORY  RUNTIMES\n" {
		t.Fatalf("workers with none live: %q", r.stdout)
	}
	s.ok(t, "deploy", "echo", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy, "--max", "5")
	if r := s.ok(t, "get", "echo"); !strings.Contains(r.stdout, "no decision yet") {
		t.Fatalf("get before any decision:\n%s", r.stdout)
	}
	put := func(bucket, key string, v any) {
		t.Helper()
		kv, err := s.bus.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if _, err := s.bus.JS.Publish(ctx, events.InvokeSubject("echo"), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	put(events.BucketScale, events.ScaleKey("echo"), events.ScaleDecision{Function: "echo", Lag: 4, Desired: 4, Reason: "lag"})
	put(events.BucketWorkers, "node-a-1", events.WorkerBeat{ID: "node-a-1", Host: "node-a", Runtimes: []string{"nodejs", "python"},
		MemoryBudgetMB: 2048, MemoryUsedMB: 384, Instances: map[string]int{"echo": 3}, Busy: map[string]int{"echo": 2}})
	put(events.BucketWorkers, "node-b-7", events.WorkerBeat{ID: "node-b-7", Host: "node-b", Runtimes: []string{"python"},
		MemoryBudgetMB: 1024, MemoryUsedMB: 128, Instances: map[string]int{"echo": 1}, Draining: true})

	r := s.ok(t, "get", "echo")
	for _, want := range []string{`lag:\s+4\n`, `desired:\s+4 \(lag\)\n`, `running:\s+4 \(2 busy\)\n`, `node-a-1: 3 \(2 busy\)\n`, `node-b-7: 1 \(0 busy\)\n`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Fatalf("get: want %s in\n%s", want, r.stdout)
		}
	}
	r = s.ok(t, "workers")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 ||
		!regexp.MustCompile(`^node-a-1\s+node-a\s+3 \(echo=3\)\s+384/2048 MB\s+nodejs,python$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^node-b-7 \(draining\)\s+node-b\s+1 \(echo=1\)\s+128/1024 MB\s+python$`).MatchString(lines[2]) {
		t.Fatalf("workers:\n%s", r.stdout)
	}
	var ws []events.WorkerBeat
	if err := json.Unmarshal([]byte(s.ok(t, "workers", "-o", "json").stdout), &ws); err != nil || len(ws) != 2 || ws[1].ID != "node-b-7" {
		t.Fatalf("workers -o json: %v %+v", err, ws)
	}
}
