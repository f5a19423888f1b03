package worker

import (
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
)

// TestLogTailIsTheEndOfTheAttemptsLog: START, the printed lines and END and REPORT, cut to the
// last events.LogTailBytes; lines of other invocations and untapped ones are not kept.
func TestLogTailIsTheEndOfTheAttemptsLog(t *testing.T) {
	var taps logTaps
	taps.add(events.LogLine{InvocationID: "a", Message: "before the tap"})
	taps.start("a")
	taps.add(events.LogLine{InvocationID: "a", Message: "one"})
	taps.add(events.LogLine{InvocationID: "b", Message: "another invocation's"})
	taps.add(events.LogLine{InvocationID: "a", Message: "two"})
	m := events.Meter{InvocationID: "a", Function: "f", Version: 3, Start: time.Now(), DurationMs: 1.5, BilledMs: 2, MemoryMB: 128, Outcome: events.OutcomeOK, Ran: true}
	got := logTail(m, taps.stop("a"))
	want := "START RequestId: a Version: 3\none\ntwo\nEND RequestId: a\nREPORT RequestId: a Duration: 1.50 ms Billed Duration: 2 ms Memory Size: 128 MB Outcome: ok\n"
	if got != want {
		t.Fatalf("tail:\n%s\nwant:\n%s", got, want)
	}
	if taps.open.Load() != 0 || taps.stop("a") != nil {
		t.Fatal("the tap is still open after stop")
	}

	taps.start("big")
	for range 1000 {
		taps.add(events.LogLine{InvocationID: "big", Message: strings.Repeat("x", 99)})
	}
	taps.add(events.LogLine{InvocationID: "big", Message: "last"})
	m.InvocationID = "big"
	got = logTail(m, taps.stop("big"))
	if len(got) != events.LogTailBytes || !strings.HasSuffix(got, "Outcome: ok\n") || !strings.Contains(got, "\nlast\nEND RequestId: big\n") {
		t.Fatalf("a long tail is %d bytes, ending %q", len(got), got[len(got)-200:])
	}
}
