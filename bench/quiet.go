package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// A phase is measured on a quiet machine: its CPUs together busy at most quietBusy of a
// quietWindow, quietRuns windows in a row. A node that has just started (or deployed, or
// called a function for the first time) fills its warm pools, and a JVM or Mono process
// starting keeps a CPU busy for a second or more; a round trip measured then is several times
// faster than on an idle machine, because on a VM whose idle CPU halts, waking it costs tens
// of microseconds that a busy CPU does not. Every latency row, baselines and sluice's alike,
// meets the same machine. On a machine that is never that quiet, quiet is a little above how
// busy it was before the bench started anything (results.calibrateQuiet). waitQuiet gives up
// after quietCap, or after quietRetry for a phase that found the machine busy before, and says so.
const (
	quietBusy   = 0.10
	quietMargin = 0.05
	quietWindow = 250 * time.Millisecond
	quietRuns   = 2
	quietCap    = 10 * time.Second
	quietRetry  = time.Second
)

// cpuTicks is what /proc/stat's first line counts for all CPUs together: the ticks they were
// busy and in all.
type cpuTicks struct{ busy, total uint64 }

// busyShare is the share of the CPUs' time spent busy between two readings.
func busyShare(from, to cpuTicks) float64 {
	if to.total <= from.total {
		return 0
	}
	return float64(to.busy-from.busy) / float64(to.total-from.total)
}

// parseCPULine reads the aggregate "cpu" line of /proc/stat: user nice system idle iowait irq
// softirq steal (guest times are inside user and nice, and not counted twice). idle and iowait
// are the time not busy.
func parseCPULine(line string) (cpuTicks, error) {
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTicks{}, fmt.Errorf("/proc/stat: not the cpu line: %q", line)
	}
	var t cpuTicks
	for i, f := range fields[1:min(len(fields), 9)] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuTicks{}, fmt.Errorf("/proc/stat: field %d: %w", i+1, err)
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t, nil
}

// readCPUTicks reads the machine's CPU ticks.
func readCPUTicks() (cpuTicks, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTicks{}, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return cpuTicks{}, errors.Join(errors.New("/proc/stat: empty"), s.Err())
	}
	return parseCPULine(s.Text())
}

// waitQuiet waits until the machine is at most threshold busy over quietRuns windows in a row and
// returns how long it waited and how busy the last window was; quiet is false when limit passed
// first (or /proc/stat is unreadable).
func waitQuiet(ctx context.Context, threshold float64, limit time.Duration) (waited time.Duration, busy float64, quiet bool) {
	start := time.Now()
	prev, err := readCPUTicks()
	if err != nil {
		return 0, 0, false
	}
	runs := 0
	for time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start), busy, false
		case <-time.After(quietWindow):
		}
		now, err := readCPUTicks()
		if err != nil {
			return time.Since(start), busy, false
		}
		busy, prev = busyShare(prev, now), now
		if busy > threshold {
			runs = 0
			continue
		}
		if runs++; runs >= quietRuns {
			return time.Since(start), busy, true
		}
	}
	return time.Since(start), busy, false
}

// calibrateQuiet sets how busy a quiet machine may be: quietBusy, or a little above how busy it
// is now, before the bench has started anything, when that is more. Now is the least busy of a
// few windows, so that a passing spike does not make every later wait accept a busy machine.
func (r *results) calibrateQuiet(ctx context.Context) {
	r.quietAt = quietBusy
	prev, err := readCPUTicks()
	if err != nil {
		return
	}
	least := 1.0
	for range 2 * quietRuns {
		sleepCtx(ctx, quietWindow)
		now, err := readCPUTicks()
		if err != nil {
			return
		}
		least, prev = min(least, busyShare(prev, now)), now
	}
	r.quietAt = max(quietBusy, least+quietMargin)
}

// quiet waits for a quiet machine before phase and keeps what it found for the notes: a phase
// measured busy is said once, however often it waited, and waits less after that.
func (r *results) quiet(ctx context.Context, phase string) {
	limit := quietCap
	if r.busyPhases[phase] {
		limit = quietRetry
	}
	waited, busy, ok := waitQuiet(ctx, cmp.Or(r.quietAt, quietBusy), limit)
	if ok {
		r.quietWaits = append(r.quietWaits, waited)
		return
	}
	if r.busyPhases == nil {
		r.busyPhases = map[string]bool{}
	}
	if !r.busyPhases[phase] {
		r.busyPhases[phase] = true
		r.note("%s: measured on a busy machine: its CPUs were still %.0f%% busy after %s", phase, 100*busy, waited.Round(time.Millisecond))
	}
}
