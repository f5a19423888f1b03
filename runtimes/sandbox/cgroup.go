package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sluice.dev/runtimes/internal/sweep"
	"sluice.dev/sdk/rawio"
)

// Cgroup versions as reported by Probe.
const (
	CgroupV1 = "v1"
	CgroupV2 = "v2"
)

// controllers every instance cgroup uses.
var wantControllers = []string{"memory", "cpu", "pids"}

// limits is what an instance cgroup enforces.
type limits struct {
	memoryBytes int64
	cpuShares   uint64 // v1 cpu.shares scale: 1024 = one CPU's share
	cpuQuota    int64  // µs per cpuPeriod; 0 = no hard cap
	pids        int
}

const cpuPeriod = 100000 // µs

// limitsFor derives an instance's limits from its memory setting: CPU in proportion to memory
// as Lambda does (1769 MB = one vCPU).
func limitsFor(memoryMB int, o Options) limits {
	l := limits{
		memoryBytes: int64(memoryMB) << 20,
		cpuShares:   max(minShares, uint64(memoryMB)*1024/mbPerCPU),
		pids:        o.PidsLimit,
	}
	if o.CPUQuota {
		l.cpuQuota = max(1000, int64(memoryMB)*cpuPeriod/mbPerCPU)
	}
	return l
}

const mbPerCPU = 1769

// minShares is the least CPU weight: v1's smallest cpu.shares, cpu.weight 1 on v2.
const minShares = 2

// hierarchy is where this host's instance cgroups are made: one folder per controller on v1,
// one folder on v2.
type hierarchy struct {
	version string
	dirs    map[string]string // controller → parent folder (the same folder for all on v2)
}

// group is one instance's cgroup.
type group struct {
	h       *hierarchy
	dirs    map[string]string // controller → the instance's folder
	peak    *os.File          // v2: memory.peak, kept open so a reset applies to this reader
	peakErr bool              // the peak cannot be reset here; reads give the peak since start

	hotMu sync.Mutex
	hot   map[hotKey]*os.File // files read or written on every invocation, kept open

	limits map[string]string // the limit files' values as last written by set
}

// findHierarchy locates the memory, cpu and pids controllers below this process's own cgroup,
// then makes (or reuses) the parent folder named parent there. An absolute parent is taken
// from the hierarchy's root instead.
func findHierarchy(parent string) (*hierarchy, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	rel := func(ctrl, mountRoot string) string {
		if path.IsAbs(parent) {
			return parent
		}
		p := own[ctrl]
		if mountRoot != "/" {
			p = strings.TrimPrefix(p, mountRoot)
		}
		return path.Join("/", p, parent)
	}
	// v2 when the unified hierarchy holds the controllers; else v1.
	if m, ok := mounts[""]; ok {
		avail, _ := os.ReadFile(filepath.Join(m.dir, "cgroup.controllers"))
		if hasAll(strings.Fields(string(avail)), wantControllers) {
			return makeV2(filepath.Join(m.dir, rel("", m.root)))
		}
	}
	h := &hierarchy{version: CgroupV1, dirs: map[string]string{}}
	var missing []string
	for _, c := range wantControllers {
		m, ok := mounts[c]
		if !ok {
			missing = append(missing, c)
			continue
		}
		dir := filepath.Join(m.dir, rel(c, m.root))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1 %s: %w", c, err)
		}
		h.dirs[c] = dir
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no cgroup controller %s mounted", ErrUnavailable, strings.Join(missing, ", "))
	}
	return h, nil
}

// sweep removes the cgroups of workers that died without releasing their instances (killed,
// crashed): those named "<instance>-<pid>-<n>" (Sandbox.newJail) for a pid that no longer runs.
// What is left in them is killed (bubblewrap's --die-with-parent ends it with its worker, nearly
// always); a cgroup that will not go yet is left to the next start. Without this, every killed
// worker left a memory, cpu and pids cgroup behind for good.
func (h *hierarchy) sweep() {
	swept := map[string]bool{} // on v2 the controllers share one folder
	for _, c := range wantControllers {
		sweep.Dead(h.dirs[c], ownerPID, func(p string) {
			name := filepath.Base(p)
			if swept[name] {
				return
			}
			swept[name] = true
			g := &group{h: h, dirs: map[string]string{}}
			for _, c := range wantControllers {
				g.dirs[c] = filepath.Join(h.dirs[c], name)
			}
			g.removeWithin(0)
		})
	}
}

// ownerPID reads the worker's pid out of an instance cgroup's name, "<instance>-<pid>-<n>".
func ownerPID(name string) (int, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return 0, false
	}
	if _, err := strconv.ParseUint(name[i+1:], 10, 64); err != nil { // the jail's number
		return 0, false
	}
	rest := name[:i]
	j := strings.LastIndexByte(rest, '-')
	if j < 0 { // no instance before the pid
		return 0, false
	}
	return sweep.PID(rest[j+1:])
}

// makeV2 makes the parent folder and delegates the controllers to its children. The parent's
// own parent must delegate them too, which the kernel refuses while it holds processes.
func makeV2(dir string) (*hierarchy, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	enable := "+" + strings.Join(wantControllers, " +")
	up := filepath.Dir(dir)
	avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if !hasAll(strings.Fields(string(avail)), wantControllers) {
		if err := os.WriteFile(filepath.Join(up, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
			return nil, fmt.Errorf("%w: cgroup v2: cannot delegate %s below %s (%w); point the cgroup parent at a "+
				"cgroup whose controllers are delegated and which holds no processes", ErrUnavailable, enable, up, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
		return nil, fmt.Errorf("%w: cgroup v2: enable %s in %s: %w", ErrUnavailable, enable, dir, err)
	}
	h := &hierarchy{version: CgroupV2, dirs: map[string]string{}}
	for _, c := range wantControllers {
		h.dirs[c] = dir
	}
	return h, nil
}

type mount struct{ dir, root string }

// cgroupMounts maps each controller to its v1 mount, and "" to the v2 mount.
func cgroupMounts() (map[string]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroup mounts: %w", err)
	}
	defer f.Close()
	out := map[string]mount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		m := mount{dir: unescape(a[4]), root: unescape(a[3])}
		switch b[0] {
		case "cgroup2":
			out[""] = m
		case "cgroup":
			for _, opt := range strings.Split(b[2], ",") {
				out[opt] = m
			}
		}
	}
	return out, sc.Err()
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// ownCgroups maps each controller to this process's cgroup path, and "" to its v2 path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("own cgroup: %w", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// create makes the cgroup name with limits l.
func (h *hierarchy) create(name string, l limits) (g *group, err error) {
	g = &group{h: h, dirs: map[string]string{}}
	defer func() {
		if err != nil {
			g.remove()
		}
	}()
	for _, c := range wantControllers {
		dir := filepath.Join(h.dirs[c], name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cgroup %s: %w", dir, err)
		}
		g.dirs[c] = dir
	}
	if err := g.set(l, true); err != nil {
		return nil, err
	}
	if h.version == CgroupV2 {
		if f, err := os.OpenFile(filepath.Join(g.dirs["memory"], "memory.peak"), os.O_RDWR, 0); err == nil {
			g.peak = f
		} else if f, err := os.Open(filepath.Join(g.dirs["memory"], "memory.peak")); err == nil {
			g.peak, g.peakErr = f, true
		}
	}
	return g, nil
}

func (g *group) write(ctrl, file, value string) error {
	p := filepath.Join(g.dirs[ctrl], file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup write %s: %w", p, err)
	}
	return nil
}

// limit writes a limit file of set, unless it holds value from set's last write already: a
// pre-started instance's limits change at its specialisation, on the cold start's path, and
// of its four files only the CPU weight usually does.
func (g *group) limit(ctrl, file, value string) error {
	if v, ok := g.limits[file]; ok && v == value {
		return nil
	}
	if err := g.write(ctrl, file, value); err != nil {
		delete(g.limits, file) // its value is unknown now
		return err
	}
	if g.limits == nil {
		g.limits = map[string]string{}
	}
	g.limits[file] = value
	return nil
}

func (g *group) read(ctrl, file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(g.dirs[ctrl], file))
}

type hotKey struct {
	path string
	flag int
}

// hotFile returns the descriptor kept open for a file of the cgroup that every invocation reads
// or writes, opening it on first use: an open and a close per file and invocation cost more
// than the rest of reading the sandbox's counters.
func (g *group) hotFile(ctrl, file string, flag int) (*os.File, error) {
	p := filepath.Join(g.dirs[ctrl], file)
	g.hotMu.Lock()
	defer g.hotMu.Unlock()
	k := hotKey{p, flag}
	if f, ok := g.hot[k]; ok {
		return f, nil
	}
	f, err := os.OpenFile(p, flag, 0)
	if err != nil {
		return nil, err
	}
	if g.hot == nil {
		g.hot = map[hotKey]*os.File{}
	}
	g.hot[k] = f
	return f, nil
}

// readHot reads a small cgroup file through its kept descriptor: a read at offset 0 makes the
// kernel render the file afresh.
func (g *group) readHot(ctrl, file string) ([]byte, error) {
	f, err := g.hotFile(ctrl, file, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1024)
	n, err := readOnce(f, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// readOnce reads a cgroup file from its start in one system call: the kernel renders the whole
// of a small file on that read. (os.File.ReadAt reads again until its buffer is full or the
// file ends, a second call for every reading, one per invocation on the worker's path.) The
// call is raw (package rawio): a cgroup file's read does not block.
func readOnce(f *os.File, buf []byte) (int, error) {
	return atStart(f, buf, rawio.ReadAtStart)
}

// writeOnce writes b to a cgroup file in one raw system call, as readOnce reads.
func writeOnce(f *os.File, b []byte) error {
	_, err := atStart(f, b, rawio.WriteAtStart)
	return err
}

// atStart runs call on f's descriptor, held open meanwhile.
func atStart(f *os.File, b []byte, call func(fd uintptr, b []byte) (int, error)) (int, error) {
	var (
		n   int
		err error
	)
	rc, cerr := f.SyscallConn()
	if cerr != nil {
		return 0, cerr
	}
	if cerr := rc.Control(func(fd uintptr) { n, err = call(fd, b) }); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// closeHot closes the kept descriptors.
func (g *group) closeHot() {
	g.hotMu.Lock()
	defer g.hotMu.Unlock()
	for k, f := range g.hot {
		_ = f.Close()
		delete(g.hot, k)
	}
}

// set applies l; first is true for a fresh cgroup (optional knobs are set once).
func (g *group) set(l limits, first bool) error {
	mem := strconv.FormatInt(l.memoryBytes, 10)
	pids := strconv.Itoa(l.pids)
	if g.h.version == CgroupV2 {
		weight := max(1, min(10000, l.cpuShares*100/1024))
		cpuMax := "max " + strconv.Itoa(cpuPeriod)
		if l.cpuQuota > 0 {
			cpuMax = strconv.FormatInt(l.cpuQuota, 10) + " " + strconv.Itoa(cpuPeriod)
		}
		for _, kv := range [][3]string{
			{"memory", "memory.max", mem},
			{"cpu", "cpu.weight", strconv.FormatUint(weight, 10)},
			{"cpu", "cpu.max", cpuMax},
			{"pids", "pids.max", pids},
		} {
			if err := g.limit(kv[0], kv[1], kv[2]); err != nil {
				return err
			}
		}
		if first {
			_ = g.write("memory", "memory.swap.max", "0") // absent without swap accounting
			_ = g.write("memory", "memory.oom.group", "1")
		}
		return nil
	}
	// v1: memory.memsw.limit_in_bytes (memory+swap) must stay ≥ memory.limit_in_bytes, so the
	// order of the two writes depends on the direction; memsw is absent without swap accounting.
	if err := g.limit("memory", "memory.limit_in_bytes", mem); err != nil {
		if err2 := g.limit("memory", "memory.memsw.limit_in_bytes", mem); err2 != nil {
			return err
		}
		if err := g.limit("memory", "memory.limit_in_bytes", mem); err != nil {
			return err
		}
	}
	_ = g.limit("memory", "memory.memsw.limit_in_bytes", mem)
	if first {
		_ = g.write("memory", "memory.swappiness", "0")
	}
	quota := "-1"
	if l.cpuQuota > 0 {
		quota = strconv.FormatInt(l.cpuQuota, 10)
		if err := g.limit("cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)); err != nil {
			return err
		}
	}
	if err := g.limit("cpu", "cpu.cfs_quota_us", quota); err != nil {
		return err
	}
	if err := g.limit("cpu", "cpu.shares", strconv.FormatUint(l.cpuShares, 10)); err != nil {
		return err
	}
	return g.limit("pids", "pids.max", pids)
}

// cloneFD opens the v2 folder for clone-into-cgroup; nil on v1.
func (g *group) cloneFD() (*os.File, error) {
	if g.h.version != CgroupV2 {
		return nil, nil
	}
	f, err := os.Open(g.dirs["memory"])
	if err != nil {
		return nil, fmt.Errorf("cgroup open: %w", err)
	}
	return f, nil
}

// add moves pid (its whole thread group) into the cgroup.
func (g *group) add(pid int) error {
	p := strconv.Itoa(pid)
	seen := map[string]bool{}
	for _, c := range wantControllers {
		if seen[g.dirs[c]] {
			continue
		}
		seen[g.dirs[c]] = true
		if err := g.write(c, "cgroup.procs", p); err != nil {
			return err
		}
	}
	return nil
}

// resetPeak starts a new peak measurement.
func (g *group) resetPeak() {
	if g.h.version == CgroupV2 {
		if g.peak != nil && !g.peakErr {
			if err := writeOnce(g.peak, []byte("reset\n")); err != nil {
				g.peakErr = true
			}
		}
		return
	}
	if f, err := g.hotFile("memory", "memory.max_usage_in_bytes", os.O_WRONLY); err == nil {
		_ = writeOnce(f, []byte("0"))
	}
}

// peakBytes is the peak memory since the last reset (since creation where resets fail).
func (g *group) peakBytes() uint64 {
	if g.h.version == CgroupV2 {
		if g.peak == nil {
			return 0
		}
		buf := make([]byte, 32)
		n, _ := readOnce(g.peak, buf)
		v, _ := strconv.ParseUint(string(bytes.TrimSpace(buf[:n])), 10, 64)
		return v
	}
	b, _ := g.readHot("memory", "memory.max_usage_in_bytes")
	v, _ := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v
}

// counters reads the cgroup's event counts: OOM kills and refused forks.
func (g *group) counters() (oomKills, pidsMax uint64) {
	if g.h.version == CgroupV2 {
		oomKills = field(g.readHot("memory", "memory.events"))("oom_kill")
	} else {
		f := field(g.readHot("memory", "memory.oom_control"))
		oomKills = f("oom_kill")
		if oomKills == 0 && f("under_oom") > 0 {
			oomKills = 1
		}
	}
	return oomKills, g.forksRefused()
}

// forksRefused reads how many process creations the pids limit refused.
func (g *group) forksRefused() uint64 {
	return field(g.readHot("pids", "pids.events"))("max")
}

// field parses "key value" lines.
func field(b []byte, _ error) func(string) uint64 {
	return func(key string) uint64 {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == key {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				return n
			}
		}
		return 0
	}
}

// procs lists the pids in the cgroup.
func (g *group) procs() []int {
	var out []int
	b, _ := g.read("pids", "cgroup.procs")
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// remove kills whatever is left in the cgroup and removes its folders, waiting up to two
// seconds for the processes to go.
func (g *group) remove() { g.removeWithin(2 * time.Second) }

// removeWithin kills what is left in the cgroup and removes its folders, trying again for up to
// wait while killed processes go.
func (g *group) removeWithin(wait time.Duration) {
	if g.peak != nil {
		_ = g.peak.Close()
	}
	g.closeHot()
	if g.h.version == CgroupV2 {
		_ = g.write("memory", "cgroup.kill", "1")
	}
	deadline := time.Now().Add(wait)
	for {
		pids := g.procs()
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		done := true
		for _, c := range wantControllers {
			if err := os.Remove(g.dirs[c]); err != nil && !errors.Is(err, os.ErrNotExist) {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}
