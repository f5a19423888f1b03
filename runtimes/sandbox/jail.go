package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"sluice.dev/runtimes/instance"
)

// setupTimeout bounds how long Started waits for bubblewrap to build the sandbox.
const setupTimeout = 10 * time.Second

// Jail is the confinement of one instance process (instance.Jail). Its methods are safe for
// concurrent use.
type Jail struct {
	s      *Sandbox
	log    *slog.Logger
	name   string   // unique on this host: the cgroup's and the staged folders' name
	cg     *group   // nil without cgroups
	staged []string // staged folders, unmounted in Release

	parentFiles []*os.File // ours, closed in Release
	childFiles  []*os.File // the child's copies, closed once it started
	info        *os.File   // bubblewrap's --info-fd, read end
	gate        *os.File   // write end: a line releases the command
	apiAddr     string     // network none: the Runtime API address to bridge

	releaseOnce sync.Once
	cgMu        sync.Mutex // serialises reading the cgroup's counters with its removal

	mu       sync.Mutex
	mem      int
	pids     []int // the process, and bubblewrap's child in the sandbox
	bridge   *bridge
	reported uint64 // refused forks already logged
	released bool
	final    Stats // the counters as Release found them
}

// Stats are a jail's measures beyond instance.Usage.
type Stats struct {
	PeakMemoryBytes uint64 // since the last ResetPeak
	OOMKills        uint64 // processes killed by the memory limit
	ForksRefused    uint64 // forks refused by the pids limit
	Processes       int    // processes in the cgroup now
}

// Started puts the process (and the sandbox's first process) into the instance's cgroup and
// under its limits, opens the Runtime API bridge for network none, then lets the command run.
func (j *Jail) Started(pid int) error {
	j.closeChildFiles()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pids = []int{pid}
	if j.info != nil {
		child, err := readChildPid(j.info)
		if err != nil {
			return fmt.Errorf("sandbox setup: %w", err)
		}
		j.pids = append(j.pids, child)
	}
	if j.cg != nil && j.cg.h.version == CgroupV1 {
		for _, p := range j.pids {
			if err := j.cg.add(p); err != nil {
				if errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("the sandbox ended while being set up (its stderr tells why): %w", err)
				}
				return err
			}
		}
	}
	if j.cg == nil {
		if err := j.rlimit(); err != nil {
			return err
		}
	}
	if j.apiAddr != "" {
		b, err := openBridge(j.pids[len(j.pids)-1], j.apiAddr, j.log)
		if err != nil {
			return fmt.Errorf("network none: %w", err)
		}
		j.bridge = b
	}
	if _, err := j.gate.WriteString("go\n"); err != nil {
		return fmt.Errorf("release the sandbox: %w", err)
	}
	_ = j.gate.Close()
	return nil
}

func (j *Jail) rlimit() error {
	for _, p := range j.pids {
		if err := setRlimits(p, int64(j.mem)<<20, int64(j.s.opts.TmpSizeMB)<<20); err != nil {
			return err
		}
	}
	return nil
}

// readChildPid reads the pid of bubblewrap's child from its --info-fd.
func readChildPid(f *os.File) (int, error) {
	_ = f.SetReadDeadline(time.Now().Add(setupTimeout))
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.NewDecoder(f).Decode(&info); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, fmt.Errorf("bubblewrap did not set up the sandbox within %s", setupTimeout)
		}
		return 0, fmt.Errorf("bubblewrap ended before the sandbox was set up (its stderr tells why): %w", err)
	}
	if info.ChildPid <= 0 {
		return 0, errors.New("bubblewrap reported no child pid")
	}
	return info.ChildPid, nil
}

// Limit applies memoryMB (and the CPU share that follows it) to the running process.
func (j *Jail) Limit(memoryMB int) error {
	if memoryMB <= 0 {
		memoryMB = instance.DefaultMemoryMB
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.mem = memoryMB
	if j.cg != nil {
		return j.cg.set(limitsFor(memoryMB, j.s.opts), false)
	}
	if len(j.pids) > 0 {
		return j.rlimit()
	}
	return nil
}

// ResetPeak starts a new peak memory measurement.
func (j *Jail) ResetPeak() {
	if j.cg != nil {
		j.cg.resetPeak()
	}
}

// Usage reports the peak memory since ResetPeak and whether the memory limit killed a
// process. Forks refused by the pids limit are logged (once per new refusal).
func (j *Jail) Usage() instance.Usage {
	j.cgMu.Lock()
	st := j.stats(false)
	j.cgMu.Unlock()
	j.mu.Lock()
	if st.ForksRefused > j.reported {
		j.log.Warn("sandbox pids limit reached: forks refused", "refused", st.ForksRefused, "limit", j.s.opts.PidsLimit)
		j.reported = st.ForksRefused
	}
	j.mu.Unlock()
	return instance.Usage{PeakMemoryBytes: st.PeakMemoryBytes, OOMKilled: st.OOMKills > 0, ForksRefused: st.ForksRefused}
}

// Stats reads the jail's counters; zero without cgroups.
func (j *Jail) Stats() Stats {
	j.cgMu.Lock()
	defer j.cgMu.Unlock()
	return j.stats(true)
}

// stats reads the counters, and the processes in the jail when procs is set; the caller holds
// cgMu.
func (j *Jail) stats(procs bool) Stats {
	j.mu.Lock()
	released, final := j.released, j.final
	j.mu.Unlock()
	if j.cg == nil || released {
		return final
	}
	oom, forks := j.cg.counters()
	st := Stats{PeakMemoryBytes: j.cg.peakBytes(), OOMKills: oom, ForksRefused: forks}
	if procs {
		st.Processes = len(j.cg.procs())
	}
	return st
}

// Release stops the bridge, kills whatever is left in the cgroup and removes it. Idempotent.
func (j *Jail) Release() { j.releaseOnce.Do(j.release) }

func (j *Jail) release() {
	j.mu.Lock()
	b := j.bridge
	j.mu.Unlock()
	j.cgMu.Lock()
	final := j.stats(true)
	j.mu.Lock()
	j.released, j.final = true, final
	j.mu.Unlock()
	j.cgMu.Unlock()
	j.closeChildFiles()
	if b != nil {
		b.close()
	}
	if final.OOMKills > 0 {
		j.log.Warn("sandbox memory limit killed the instance", "memory_mb", j.mem, "oom_kills", final.OOMKills)
	}
	if j.cg != nil {
		j.cg.remove()
	}
	for _, p := range j.staged {
		j.s.stage.unbind(p)
	}
	for _, f := range append(j.parentFiles, j.info, j.gate) {
		if f != nil {
			_ = f.Close()
		}
	}
}

// stageDir stages src for this jail.
func (j *Jail) stageDir(st *stage, name, src string) (string, error) {
	p, err := st.bind(name, src)
	if err != nil {
		return "", err
	}
	j.staged = append(j.staged, p)
	return p, nil
}

func (j *Jail) closeChildFiles() {
	j.mu.Lock()
	files := j.childFiles
	j.childFiles = nil
	j.mu.Unlock()
	for _, f := range files {
		_ = f.Close()
	}
}
