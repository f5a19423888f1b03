package main

import (
	"math"
	"testing"
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
