package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLimitsFollowMemory(t *testing.T) {
	for _, c := range []struct {
		mb     int
		shares uint64
		quota  int64
	}{{128, 74, 7235}, {1769, 1024, 100000}, {3538, 2048, 200000}, {1, 2, 1000}} {
		l := limitsFor(c.mb, Options{PidsLimit: 64, CPUQuota: true})
		if l.memoryBytes != int64(c.mb)<<20 || l.cpuShares != c.shares || l.cpuQuota != c.quota || l.pids != 64 {
			t.Errorf("%d MB: %+v, want shares %d quota %d", c.mb, l, c.shares, c.quota)
		}
	}
}

// The v2 files an instance cgroup writes and reads, on a folder standing for the hierarchy
// (this package's tests on a v2 host exercise the real one).
func TestCgroupV2Files(t *testing.T) {
	root := t.TempDir()
	h := &hierarchy{version: CgroupV2, dirs: map[string]string{"memory": root, "cpu": root, "pids": root}}
	g, err := h.create("i-1", limitsFor(256, Options{PidsLimit: 32}))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "i-1")
	want := map[string]string{"memory.max": "268435456", "cpu.weight": "14", "cpu.max": "max 100000", "pids.max": "32", "memory.swap.max": "0", "memory.oom.group": "1"}
	for f, v := range want {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || string(b) != v {
			t.Errorf("%s = %q (%v), want %q", f, b, err, v)
		}
	}
	if err := g.set(limitsFor(512, Options{PidsLimit: 32, CPUQuota: true}), false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cpu.max")); string(b) != "28942 100000" {
		t.Errorf("cpu.max = %q", b)
	}
	write := func(f, s string) {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	write("pids.events", "max 5\n")
	write("cgroup.procs", "")
	if oom, forks := g.counters(); oom != 1 || forks != 5 {
		t.Errorf("counters = %d %d", oom, forks)
	}
	write("memory.peak", "52428800\n")
	g2, err := h.create("i-2", limitsFor(128, Options{PidsLimit: 32}))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "i-2", "memory.peak"), []byte("1048576\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g2.peak, _ = os.OpenFile(filepath.Join(root, "i-2", "memory.peak"), os.O_RDWR, 0)
	if p := g2.peakBytes(); p != 1048576 {
		t.Errorf("peak = %d", p)
	}
	_ = g.peak
}

// A specialisation writes only the limits that changed: a pre-started instance's cgroup, made at
// the least CPU weight, gets the function's weight and keeps its memory, CPU cap and pids files
// untouched (here folders, which no write can go to).
func TestCgroupWritesOnlyChangedLimits(t *testing.T) {
	root := t.TempDir()
	h := &hierarchy{version: CgroupV2, dirs: map[string]string{"memory": root, "cpu": root, "pids": root}}
	idle := limitsFor(256, Options{PidsLimit: 32})
	idle.cpuShares = minShares
	g, err := h.create("i-1", idle)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "i-1")
	for _, f := range []string{"memory.max", "cpu.max", "pids.max"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.set(limitsFor(256, Options{PidsLimit: 32}), false); err != nil {
		t.Fatalf("set with only the weight changed: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cpu.weight")); string(b) != "14" {
		t.Errorf("cpu.weight = %q, want 14", b)
	}
	if err := os.Remove(filepath.Join(dir, "memory.max")); err != nil {
		t.Fatal(err)
	}
	if err := g.set(limitsFor(512, Options{PidsLimit: 32}), false); err != nil {
		t.Fatalf("set with the memory changed: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.max")); string(b) != "536870912" {
		t.Errorf("memory.max = %q, want 536870912", b)
	}
}

func TestCgroupMountsAndOwnPath(t *testing.T) {
	m, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 || len(own) == 0 {
		t.Skip("no cgroup file system mounted here")
	}
	for c, p := range own {
		if !strings.HasPrefix(p, "/") {
			t.Errorf("own cgroup of %q = %q", c, p)
		}
	}
}

// A worker that was killed leaves its instances' cgroups behind; the next sandbox made on the
// host removes them, and never those of a worker that runs.
func TestDeadWorkersCgroupsAreSwept(t *testing.T) {
	h, err := findHierarchy("sluice-sweep-test-" + strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Skipf("no cgroups to make here: %v", err)
	}
	t.Cleanup(func() {
		for _, d := range h.dirs {
			_ = os.Remove(d)
		}
	})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	left, err := h.create(fmt.Sprintf("fn_a-b-%d-3", dead.Process.Pid), limitsFor(128, Options{PidsLimit: 8}))
	if err != nil {
		t.Fatal(err)
	}
	live, err := h.create(fmt.Sprintf("fn_a-b-%d-4", os.Getpid()), limitsFor(128, Options{PidsLimit: 8}))
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove()
	h.sweep()
	for c := range h.dirs {
		if _, err := os.Stat(left.dirs[c]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup of a dead worker: %v, want it removed", c, err)
		}
		if _, err := os.Stat(live.dirs[c]); err != nil {
			t.Errorf("%s cgroup of a live worker: %v, want it kept", c, err)
		}
	}
}

func TestOwnerPID(t *testing.T) {
	for name, want := range map[string]int{"fn_1-12-3": 12, "warm-python-5-32500-5": 32500, "a-b": 0, "x-12-y": 0, "12-3": 0, "-0-1": 0} {
		if got, ok := ownerPID(name); got != want || ok != (want > 0) {
			t.Errorf("ownerPID(%q) = %d %v, want %d", name, got, ok, want)
		}
	}
}
