package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the CPU times in /proc/PID/stat, fixed by the Linux ABI.
const userHZ = 100

// cpuTime is the user and system CPU time a process's own threads have used (not its
// children's): from the process's CPU-time clock, to the nanosecond, else from /proc/PID/stat in
// 10 ms ticks.
func cpuTime(pid int) (time.Duration, error) {
	if d, err := cpuClock(pid); err == nil {
		return d, nil
	}
	return statCPU(pid)
}

// cpuClock reads the process's CPU-time clock (clock_getcpuclockid(3)): the run time of all its
// threads, ended ones included, which is the sum utime and stime of /proc/PID/stat are scaled to
// before their rounding down to ticks.
func cpuClock(pid int) (time.Duration, error) {
	const cpuClockSched = 2 // CPUCLOCK_SCHED, of the whole process (no per-thread bit)
	id := (^int32(pid))<<3 | cpuClockSched
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, fmt.Errorf("CPU clock of process %d: %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}

// statCPU is utime+stime of /proc/PID/stat.
func statCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields counted start after it.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of stat(5)
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// memory reads a process's resident set size now and at its peak (VmRSS, VmHWM), in bytes.
func memory(pid int) (rss, peak uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// rssPeaks samples the resident set sizes of pids every interval until stop is called, and then
// returns each one's largest sample.
func rssPeaks(ctx context.Context, pids []int, interval time.Duration) (stop func() []uint64) {
	peaks := make([]uint64, len(pids))
	end := every(ctx, interval, func() {
		for i, pid := range pids {
			if rss, _, err := memory(pid); err == nil {
				peaks[i] = max(peaks[i], rss)
			}
		}
	})
	return func() []uint64 {
		end()
		return peaks
	}
}

// every calls sample at once and then every interval until the returned stop is called, which
// returns once the last call has ended.
func every(ctx context.Context, interval time.Duration, sample func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// helpers are processes of one name among the children of some processes (each instance's
// slirp4netns, say): how many run and their memory.
type helpers struct {
	n        int
	rss, pss uint64 // summed, in bytes
}

// childrenNamed reads the helpers named name among the children of pids. PSS shares each
// library page among the processes mapping it, so it is what the helpers add to the machine.
func childrenNamed(pids []int, name string) helpers {
	var h helpers
	for _, pid := range pids {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				child, err := strconv.Atoi(f)
				if err != nil {
					continue
				}
				comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
				if err != nil || strings.TrimSpace(string(comm)) != name {
					continue
				}
				h.n++
				if rss, _, err := memory(child); err == nil {
					h.rss += rss
				}
				h.pss += smapsPss(child)
			}
		}
	}
	return h
}

// smapsPss is a process's proportional set size in bytes (0 when unreadable).
func smapsPss(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// helperPeaks samples childrenNamed every interval until stop is called, and returns the
// sample with the most helpers.
func helperPeaks(ctx context.Context, pids []int, name string, interval time.Duration) (stop func() helpers) {
	var peak helpers
	end := every(ctx, interval, func() {
		if h := childrenNamed(pids, name); h.n > peak.n {
			peak = h
		}
	})
	return func() helpers {
		end()
		return peak
	}
}
