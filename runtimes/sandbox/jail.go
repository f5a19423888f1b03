package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
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
	cfg    instance.Config
	opts   Options   // the limits: the sandbox's, or a build's
	name   string    // unique on this host: the cgroup's and the staged folders' name
	uid    *uidLease // the host uid the process runs as; nil when it runs as the worker's
	cg     *group    // nil without cgroups
	cgFD   *os.File  // the cgroup to clone the process into (v2); nil on v1
	net    *network  // the process's own network; nil when it shares the worker's
	staged []string  // staged folders, unmounted in Release
	stageD string    // the jail's folder of the stage, private to its uid; "" until used

	parentFiles []*os.File // ours, closed in Release
	childFiles  []*os.File // the child's copies, closed once it started
	info        *os.File   // bubblewrap's --info-fd, read end
	gate        *os.File   // write end: a line releases the command

	releaseOnce sync.Once
	cgMu        sync.Mutex // serialises reading the cgroup's counters with its removal

	mu       sync.Mutex
	mem      int
	pids     []int  // the process, and bubblewrap's child in the sandbox
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

// RuntimeAPI is the listener inside the process's own network namespace, at RuntimeAPIAddr,
// that its Runtime API is served on; nil when the process shares the worker's network.
func (j *Jail) RuntimeAPI() net.Listener {
	if j.net == nil {
		return nil
	}
	return j.net.api
}

// Start starts the command Wrap rewrote: inside the jail's network namespace when it has one.
func (j *Jail) Start(cmd *exec.Cmd) error {
	if j.net == nil {
		return cmd.Start()
	}
	return j.net.start(cmd)
}

// Started puts the process (and the sandbox's first process) into the instance's cgroup and
// under its limits, waits until its outside network is ready, then lets the command run.
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
	if j.net != nil {
		if err := j.net.waitReady(); err != nil {
			return err
		}
	}
	if _, err := j.gate.WriteString("go\n"); err != nil {
		return fmt.Errorf("release the sandbox: %w", err)
	}
	_ = j.gate.Close()
	return nil
}

func (j *Jail) rlimit() error {
	for _, p := range j.pids {
		if err := setRlimits(p, int64(j.mem)<<20, int64(j.opts.TmpSizeMB)<<20); err != nil {
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
		return j.cg.set(limitsFor(memoryMB, j.opts), false)
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

// Usage reports the peak memory since ResetPeak and the forks the pids limit refused: what an
// invocation's report needs, read after every invocation, so it reads two files and not the
// memory controller's event counts (OOMKilled). Forks refused are logged (once per new refusal).
func (j *Jail) Usage() instance.Usage {
	j.mu.Lock()
	released, final := j.released, j.final
	j.mu.Unlock()
	if j.cg == nil || released {
		return instance.Usage{PeakMemoryBytes: final.PeakMemoryBytes, ForksRefused: final.ForksRefused}
	}
	j.cgMu.Lock()
	u := instance.Usage{PeakMemoryBytes: j.cg.peakBytes(), ForksRefused: j.cg.forksRefused()}
	j.cgMu.Unlock()
	j.mu.Lock()
	if u.ForksRefused > j.reported {
		j.log.Warn("sandbox pids limit reached: forks refused", "refused", u.ForksRefused, "limit", j.opts.PidsLimit)
		j.reported = u.ForksRefused
	}
	j.mu.Unlock()
	return u
}

// OOMKilled reports whether the memory limit killed a process of the jail.
func (j *Jail) OOMKilled() bool {
	j.cgMu.Lock()
	defer j.cgMu.Unlock()
	return j.stats(false).OOMKills > 0
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

// Release kills whatever is left in the cgroup and removes it, ends the network and gives
// the uid back. Idempotent.
func (j *Jail) Release() { j.releaseOnce.Do(j.release) }

func (j *Jail) release() {
	j.cgMu.Lock()
	final := j.stats(true)
	j.mu.Lock()
	j.released, j.final = true, final
	j.mu.Unlock()
	j.cgMu.Unlock()
	j.closeChildFiles()
	if final.OOMKills > 0 {
		j.log.Warn("sandbox memory limit killed the instance", "memory_mb", j.mem, "oom_kills", final.OOMKills)
	}
	if j.cg != nil {
		j.cg.remove()
	}
	if j.net != nil {
		j.net.close()
	}
	for _, p := range j.staged {
		j.s.stage.unbind(p)
	}
	if j.stageD != "" {
		_ = os.Remove(j.stageD)
	}
	for _, f := range append(j.parentFiles, j.info, j.gate) {
		if f != nil {
			_ = f.Close()
		}
	}
	j.uid.release() // last: nothing of the instance runs as it any more
}

// stageDir stages src (read-only unless rw) for this jail, in a folder of the stage only the
// jail's uid can enter.
func (j *Jail) stageDir(name, src string, rw bool) (string, error) {
	if j.stageD == "" {
		owner := -1
		if j.uid != nil {
			owner = j.uid.uid
		}
		d, err := j.s.stage.jailDir(j.name, owner)
		if err != nil {
			return "", err
		}
		j.stageD = d
	}
	p, err := j.s.stage.bind(j.stageD, name, src, rw)
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
