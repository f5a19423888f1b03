package worker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/gateway"
	"sluice.dev/services/telemetry"
)

// flood prints numbered lines a thousand to a write until the file event["stop"] exists and at
// least event["min"] are out, and returns how many it printed.
const flood = `
import os, sys
def handler(event, context):
    n = 0
    while n < event["min"] or not os.path.exists(event["stop"]):
        sys.stdout.write("".join("flood %d\n" % i for i in range(n, n + 1000)))
        n += 1000
    return n
`

// numbered prints three lines naming its call.
const numbered = `
def handler(event, context):
    for k in range(3):
        print("quiet %d %d" % (event["n"], k))
    return event["n"]
`

// One function printing a flood loses only its own lines, and its logs count them; another
// function's lines and every meter record arrive.
func TestNoisyFunctionCostsNoOtherFunctionItsLines(t *testing.T) {
	f := start(t)
	loud := f.deploy(t, "loud", flood, events.Config{Timeout: events.Duration(2 * time.Minute)})
	quiet := f.deploy(t, "quiet", numbered, events.Config{})
	if r := f.sync(t, quiet, `{"n":-1}`); r.Outcome != events.OutcomeOK { // warm
		t.Fatalf("warm-up: %+v", r)
	}

	stop := filepath.Join(t.TempDir(), "stop")
	printed := make(chan events.Result, 1)
	go func() {
		r, err := f.gw.Sync(context.Background(), gateway.Call{Version: loud, Data: fmt.Appendf(nil, `{"min":200000,"stop":%q}`, stop)})
		if err != nil {
			r.Error = &events.FunctionError{Type: "Test", Message: err.Error()}
		}
		printed <- r
	}()
	// The flood is under way once its lines start to arrive (in records of up to 64).
	testkit.Eventually(t, 30*time.Second, func() error {
		if n := bustest.Stored(t, f.bus.JS, events.StreamLogs, events.LogsSubject("loud")); n < 1000/64 {
			return fmt.Errorf("%d records of loud's lines so far", n)
		}
		return nil
	})

	const calls = 200
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for n := range next {
				r, err := f.gw.Sync(context.Background(), gateway.Call{Version: quiet, Data: fmt.Appendf(nil, `{"n":%d}`, n)})
				if err != nil || r.Outcome != events.OutcomeOK {
					t.Errorf("quiet %d: %+v, %v", n, r, err)
				}
			}
		})
	}
	for n := range calls {
		next <- n
	}
	close(next)
	wg.Wait()
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-printed
	if r.Outcome != events.OutcomeOK {
		t.Fatalf("loud: %+v", r)
	}
	total, err := strconv.Atoi(string(r.Payload))
	if err != nil {
		t.Fatalf("loud returned %s", r.Payload)
	}

	// Every line of quiet arrives, three per call, and every call's REPORT (from its meter record).
	want := map[string]bool{}
	for n := range calls {
		for k := range 3 {
			want[fmt.Sprintf("quiet %d %d", n, k)] = true
		}
	}
	reports := 0
	testkit.Eventually(t, 30*time.Second, func() error {
		got := map[string]bool{}
		reports = 0
		for _, l := range append(readLines(t, f.bus.JS, "quiet"), meterLines(t, f.bus.JS, "quiet")...) {
			switch {
			case l.Stream == "stdout":
				got[l.Message] = true
			case strings.HasPrefix(l.Message, "REPORT "):
				reports++
			case strings.HasPrefix(l.Message, telemetry.MarkerPrefix):
				return fmt.Errorf("quiet lost lines: %q", l.Message)
			}
		}
		missing := 0
		for m := range want {
			if !got[m] {
				missing++
			}
		}
		if missing > 0 || reports < calls+1 {
			return fmt.Errorf("quiet: %d of its %d lines missing, %d REPORT lines of %d", missing, len(want), reports, calls+1)
		}
		return nil
	})

	// Every meter record arrives: loud's and quiet's.
	testkit.Eventually(t, 10*time.Second, func() error {
		l := bustest.Stored(t, f.bus.JS, events.StreamMeters, events.MetersSubject("loud"))
		q := bustest.Stored(t, f.bus.JS, events.StreamMeters, events.MetersSubject("quiet"))
		if l != 1 || q != calls+1 {
			return fmt.Errorf("meter records: loud %d, quiet %d; want 1 and %d", l, q, calls+1)
		}
		return nil
	})

	// loud's lines that arrived and those its markers count make what it printed.
	var arrived, dropped, markers int
	testkit.Eventually(t, 30*time.Second, func() error {
		arrived, dropped, markers = 0, 0, 0
		next := 0
		for _, l := range readLines(t, f.bus.JS, "loud") {
			if n, ok := telemetry.MarkerCount(l.Message); ok && l.Stream == "platform" {
				dropped += n
				markers++
				next += n
				continue
			}
			if l.Stream != "stdout" {
				continue
			}
			if l.Message != fmt.Sprint("flood ", next) {
				return fmt.Errorf("line %q where %q or a marker was due", l.Message, fmt.Sprint("flood ", next))
			}
			next++
			arrived++
		}
		if arrived+dropped != total {
			return fmt.Errorf("loud printed %d lines: %d arrived and %d counted dropped in %d markers", total, arrived, dropped, markers)
		}
		return nil
	})
	if dropped == 0 {
		t.Fatalf("loud printed %d lines and none was dropped: no flood to test with", total)
	}
	t.Logf("loud printed %d lines: %d arrived, %d dropped and counted in %d markers", total, arrived, dropped, markers)
}

// readLines reads every log line of a function stored now on SLUICE_LOGS, out of its batch
// records.
func readLines(t *testing.T, js jetstream.JetStream, fn string) []events.LogLine {
	t.Helper()
	n := bustest.Stored(t, js, events.StreamLogs, events.LogsSubject(fn))
	c, err := js.OrderedConsumer(context.Background(), events.StreamLogs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.LogsSubject(fn)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.LogLine
	it, err := c.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	for i := range n {
		m, err := it.Next(jetstream.NextMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("record %d of %d of %s: %v", i, n, fn, err)
		}
		b, err := events.DecodeLogBatch(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Lines...)
	}
	return out
}

// meterLines reads the START, END and REPORT lines of a function's invocations: their meter
// records stored now on SLUICE_METERS, rendered by events.MeterLines.
func meterLines(t *testing.T, js jetstream.JetStream, fn string) []events.LogLine {
	t.Helper()
	n := bustest.Stored(t, js, events.StreamMeters, events.MetersSubject(fn))
	c, err := js.OrderedConsumer(context.Background(), events.StreamMeters, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.MetersSubject(fn)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.LogLine
	for i := range n {
		msg, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("meter record %d of %d of %s: %v", i, n, fn, err)
		}
		m, err := events.DecodeMeter(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, events.MeterLines(m)...)
	}
	return out
}

// streamLines waits until a function has at least want lines on SLUICE_LOGS, and returns them.
func streamLines(t *testing.T, js jetstream.JetStream, fn string, want int) []events.LogLine {
	t.Helper()
	var out []events.LogLine
	testkit.Eventually(t, 10*time.Second, func() error {
		if out = readLines(t, js, fn); len(out) < want {
			return fmt.Errorf("%d lines of %s, want %d", len(out), fn, want)
		}
		return nil
	})
	return out
}

// functionLogs waits until a function has at least want lines, its printed ones and the START,
// END and REPORT of its meter records, as the logs API shows them, and returns them in time
// order.
func functionLogs(t *testing.T, js jetstream.JetStream, fn string, want int) []events.LogLine {
	t.Helper()
	var out []events.LogLine
	testkit.Eventually(t, 10*time.Second, func() error {
		if out = append(readLines(t, js, fn), meterLines(t, js, fn)...); len(out) < want {
			return fmt.Errorf("%d lines of %s, want %d", len(out), fn, want)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b events.LogLine) int { return a.Time.Compare(b.Time) })
	return out
}
