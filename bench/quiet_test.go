package main

import (
	"math"
	"testing"
	"time"
)

func TestParseCPULineCountsIdleAndIOWaitAsNotBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseCPULine("cpu  100 5 40 800 20 3 2 1 50 0")
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuTicks{busy: 100 + 5 + 40 + 3 + 2 + 1, total: 971}); got != want {
		t.Fatalf("parseCPULine = %+v, want %+v (guest time is inside user, not counted twice)", got, want)
	}
}

func TestParseCPULineRefusesOtherLines(t *testing.T) {
	for _, line := range []string{"", "cpu0 1 2 3 4 5", "cpu 1 2 x 4 5", "intr 1 2 3 4 5"} {
		if _, err := parseCPULine(line); err == nil {
			t.Errorf("parseCPULine(%q) took it", line)
		}
	}
}

func TestBusyShareIsTheBusyPartOfTheTimeBetweenReadings(t *testing.T) {
	from, to := cpuTicks{busy: 100, total: 1000}, cpuTicks{busy: 130, total: 1200}
	if got := busyShare(from, to); math.Abs(got-0.15) > 1e-9 {
		t.Fatalf("busyShare = %v, want 0.15", got)
	}
	if got := busyShare(to, to); got != 0 {
		t.Fatalf("busyShare with no time between = %v, want 0", got)
	}
}

func TestWaitQuietEndsOnAQuietMachineAndGivesUpOnABusyOne(t *testing.T) {
	// Every window is at most fully busy, so a threshold of 1.01 is always met, and -1 never.
	waited, _, quiet := waitQuiet(t.Context(), 1.01, 5*time.Second)
	if !quiet || waited < quietRuns*quietWindow || waited >= quietCap {
		t.Fatalf("always quiet: waited %s, quiet %v; want quiet after %d windows", waited, quiet, quietRuns)
	}
	waited, _, quiet = waitQuiet(t.Context(), -1, 600*time.Millisecond)
	if quiet || waited < 600*time.Millisecond {
		t.Fatalf("never quiet: waited %s, quiet %v; want a give-up after 600ms", waited, quiet)
	}
}

func TestAPhaseFoundBusyIsSaidOnceAndWaitsLessAfter(t *testing.T) {
	r := &results{quietAt: -1, busyPhases: map[string]bool{"cold c": true}}
	start := time.Now()
	r.quiet(t.Context(), "cold c")
	if took := time.Since(start); took < quietRetry || took >= quietCap/2 {
		t.Fatalf("a phase found busy before waited %s, want about %s, not the %s of a first wait", took, quietRetry, quietCap)
	}
	if len(r.notes) != 0 || len(r.quietWaits) != 0 {
		t.Fatalf("notes %q, waits %v: a busy phase is said once, and a busy wait is not a quiet one", r.notes, r.quietWaits)
	}
}
