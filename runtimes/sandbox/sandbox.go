package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"sluice.dev/runtimes/instance"
)

// Sandbox confines instance processes as far as this host allows. It implements
// instance.Sandbox and is safe for concurrent use; it holds no resources of its own (each
// Jail holds its instance's).
type Sandbox struct {
	opts   Options
	log    *slog.Logger
	report Report
	bwrap  string     // "" when namespaces are not used
	cg     *hierarchy // nil when cgroups are not used
	drop   bool       // run as opts.UID/GID
	layout layout
	stage  *stage   // nil when bubblewrap can reach the folders itself (the worker is not root)
	uids   *uidPool // nil when instances run as the worker's uid
	plan   *netPlan // nil when instances share the worker's network
	seq    atomic.Uint64
}

// New probes the host and builds a Sandbox. Required mode fails with ErrUnavailable unless
// every part of the isolation works; Auto logs a warning for each missing part and uses the
// rest (rlimits only, when no cgroup memory controller is usable); Off uses rlimits only and
// warns. logger may be nil.
func New(ctx context.Context, opts Options, logger *slog.Logger) (*Sandbox, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rep, h, err := probe(ctx, opts)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{opts: opts, log: logger, report: rep, layout: newLayout(opts.ReadOnly)}
	switch opts.Mode {
	case Required:
		if !rep.Isolated || rep.Network != string(opts.Network) {
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(rep.Missing, "; "))
		}
	case Off:
		s.report.Namespaces, s.report.Cgroup, s.report.Controllers, s.report.UnprivilegedUID = false, "", nil, false
		s.report.Rlimits, s.report.Isolated = true, false
		s.report.Missing = []string{"isolation is turned off: functions run as ordinary processes under rlimits only"}
		logger.Warn("sandbox off: function instances are NOT isolated (no namespaces, no cgroups, no uid change); rlimits only")
		return s, nil
	}
	if rep.Namespaces {
		s.bwrap = rep.Bwrap
	}
	if rep.UnprivilegedUID {
		if s.stage, err = newStage(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if s.uids, err = newUIDPool(opts.FirstUID, opts.UIDCount); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if rep.PrivateNetwork {
		o := opts
		o.Network = Network(rep.Network)
		plan, err := newNetPlan(o, rep.Egress)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		s.plan = &plan
	}
	s.cg = h
	s.drop = rep.UnprivilegedUID
	for _, m := range rep.Missing {
		logger.Warn("sandbox: isolation degraded", "missing", m)
	}
	if rep.Rlimits {
		logger.Warn("sandbox: no cgroup limits on this host; instances run under rlimits only (memory, file size), without OOM or peak memory reports")
	}
	logger.Info("sandbox ready", "isolated", rep.Isolated, "namespaces", rep.Namespaces, "bwrap", rep.BwrapVersion,
		"uids", rep.UIDs, "unprivileged", rep.UnprivilegedUID, "cgroup", rep.Cgroup, "controllers", rep.Controllers,
		"network", rep.Network, "private_network", rep.PrivateNetwork, "allow", opts.Allow, "pids", opts.PidsLimit, "tmp_mb", opts.TmpSizeMB)
	return s, nil
}

// Close removes what New set up on the host (the staging folder of code mounts). Call it after
// every instance has been closed.
func (s *Sandbox) Close() error {
	if s.stage != nil {
		s.stage.close()
	}
	return nil
}

// Report is what New found and uses, for /healthz and start-up logs.
func (s *Sandbox) Report() Report { return s.report }

// Options are the Sandbox's options with defaults filled.
func (s *Sandbox) Options() Options { return s.opts }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// Jail prepares the confinement of one process of cfg before its command exists: a host uid
// of its own, its cgroup, and (where the host allows) its network namespace with the Runtime
// API's listener inside.
func (s *Sandbox) Jail(ctx context.Context, cfg instance.Config) (instance.Jail, error) {
	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = instance.DefaultMemoryMB
	}
	// A process pre-started for no function yet (instance.Prestart) runs at the least CPU
	// weight until Limit gives it its function's share: it takes only CPU nothing else wants, so
	// a worker filling its warm pool (a JVM, a Mono, a Node.js start) never slows the
	// invocations it runs meanwhile. At equal weight, a burst's first instances on a worker that
	// had just started waited a second for those starts.
	idle := cfg.Function == ""
	j, err := s.newJail(ctx, cfg.ID, mem, idle, s.opts, s.plan, s.log.With("function", cfg.Function, "instance", cfg.ID))
	if err != nil {
		return nil, err
	}
	j.cfg = cfg
	return j, nil
}

// newJail makes a jail named after id with a memory limit of mem MB and the other limits of
// opts, on the network plan gives (nil: the worker's); idle gives it the least CPU weight.
func (s *Sandbox) newJail(ctx context.Context, id string, mem int, idle bool, opts Options, plan *netPlan, log *slog.Logger) (_ *Jail, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := &Jail{s: s, mem: mem, opts: opts, log: log,
		name: unsafeName.ReplaceAllString(id, "_") + fmt.Sprintf("-%d-%d", os.Getpid(), s.seq.Add(1))}
	defer func() {
		if err != nil {
			j.Release()
		}
	}()
	if s.uids != nil {
		if j.uid, err = s.uids.take(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
	}
	if s.cg != nil {
		l := limitsFor(mem, opts)
		if idle {
			l.cpuShares = minShares
		}
		if j.cg, err = s.cg.create(j.name, l); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
		if j.cgFD, err = j.cg.cloneFD(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
		if j.cgFD != nil {
			j.parentFiles = append(j.parentFiles, j.cgFD)
		}
	}
	if plan != nil {
		if j.net, err = newNetwork(*plan, j.log); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
	}
	return j, nil
}

// Wrap rewrites cmd to run confined. With namespaces, cmd becomes bubblewrap running the
// original command with the function's code at TaskRoot (also the working directory and
// LAMBDA_TASK_ROOT), the runtime's bootstrap folder at RuntimeRoot, and the environment set
// inside the sandbox only: bubblewrap itself starts with an empty one, and reads its
// arguments from a descriptor, so nothing of the function shows in the host's process list.
// The process waits, before the command runs, until Started has put it in its cgroup and set
// its limits.
func (j *Jail) Wrap(cmd *exec.Cmd) (env []string, err error) {
	s := j.s
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	sealInheritedFDs()
	if j.cgFD != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(j.cgFD.Fd())
	}
	if j.uid != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(j.uid.uid), Gid: uint32(j.uid.uid), Groups: []uint32{}}
	}
	if j.net != nil {
		cmd.Env = setEnv(cmd.Env, "AWS_LAMBDA_RUNTIME_API", RuntimeAPIAddr)
	}
	runtimeDir, err := s.layout.runtimeDir(cmd.Args[1:], j.cfg.CodeDir)
	if err != nil {
		return nil, err
	}
	p := paths{code: j.cfg.CodeDir, codeTo: j.cfg.CodeDir, runtime: runtimeDir, runtimeTo: runtimeDir}
	if s.stage != nil {
		if p.codeTo, err = j.stageDir("task", j.cfg.CodeDir, false); err != nil {
			return nil, fmt.Errorf("%w: code folder: %w", ErrWrap, err)
		}
		if runtimeDir != "" {
			if p.runtimeTo, err = j.stageDir("runtime", runtimeDir, false); err != nil {
				return nil, fmt.Errorf("%w: runtime folder: %w", ErrWrap, err)
			}
		}
	}
	fds := &fdArgs{base: len(cmd.ExtraFiles)}
	if s.bwrap != "" {
		env, err = s.wrapBwrap(cmd, p, j, fds)
	} else {
		env, err = s.wrapShell(cmd, p, j, fds)
	}
	j.mu.Lock()
	j.childFiles = append(j.childFiles, fds.files...)
	j.mu.Unlock()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, fds.files...)
	return env, nil
}

// wrapBwrap makes cmd bubblewrap's, showing the (staged) folders of p at TaskRoot and
// RuntimeRoot.
func (s *Sandbox) wrapBwrap(cmd *exec.Cmd, p paths, j *Jail, fds *fdArgs) (env []string, err error) {
	if !s.layout.visible(cmd.Path) && !p.inCode(cmd.Path) {
		return nil, fmt.Errorf("%w: interpreter %s is outside the folders the sandbox shows; add its folder to the read-only folders", ErrWrap, cmd.Path)
	}
	inside := paths{code: p.code, codeTo: TaskRoot, runtime: p.runtime, runtimeTo: RuntimeRoot}
	spec := bwrapSpec{tmpBytes: int64(s.opts.TmpSizeMB) << 20, uid: s.opts.UID, gid: s.opts.GID,
		mounts: []bindMount{{src: p.codeTo, dst: TaskRoot}}, chdir: TaskRoot, ownNet: j.net != nil, env: inside.env(cmd.Env)}
	if p.runtimeTo != "" {
		spec.mounts = append(spec.mounts, bindMount{src: p.runtimeTo, dst: RuntimeRoot})
	}
	if !s.drop {
		spec.uid, spec.gid = os.Geteuid(), os.Getegid()
	}
	if j.info, spec.info, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrap, err)
	}
	j.childFiles = append(j.childFiles, spec.info)
	if spec.block, j.gate, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrap, err)
	}
	j.childFiles = append(j.childFiles, spec.block)
	args, err := s.bwrapArgs(spec, fds)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrap, err)
	}
	argv := append([]string{s.bwrap}, args...)
	argv = append(argv, inside.rewrite(cmd.Path)) // the function's own executable runs from TaskRoot
	for _, a := range cmd.Args[1:] {
		argv = append(argv, inside.rewrite(a))
	}
	cmd.Path, cmd.Args = s.bwrap, argv
	cmd.Env = []string{} // bubblewrap's own: the command's is set inside (bwrapSpec.env)
	cmd.Dir = "/"
	return spec.env, nil
}

// gateScript waits for a line on fd 3 (sent by Started once the process is in its cgroup and
// under its limits), then runs the command without that descriptor. It ends with 125 when the
// worker goes away first.
const gateScript = `read -r _ <&3 || exit 125; exec "$0" "$@" 3<&-`

// wrapShell gates the command behind a shell that waits for Started, when there are no
// namespaces; the (staged) folders of p replace the host's in its arguments, environment and
// working directory.
func (s *Sandbox) wrapShell(cmd *exec.Cmd, p paths, j *Jail, fds *fdArgs) ([]string, error) {
	if fds.base != 0 {
		return nil, fmt.Errorf("%w: the command already passes extra files", ErrWrap)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrap, err)
	}
	j.gate = w
	fds.add(r)
	args := []string{"sh", "-c", gateScript, p.rewrite(cmd.Path)}
	for _, a := range cmd.Args[1:] {
		args = append(args, p.rewrite(a))
	}
	cmd.Path, cmd.Args = "/bin/sh", args
	cmd.Env = p.env(cmd.Env)
	cmd.Dir = p.rewrite(cmd.Dir)
	return cmd.Env, nil
}

// setEnv sets key in a KEY=VALUE list, replacing every earlier setting.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// sealInheritedFDs marks every descriptor above stderr close-on-exec. Go opens its own that
// way, but descriptors the worker inherited from whatever started it are not, and bubblewrap
// does not close them: without this they would reach the function.
func sealInheritedFDs() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}
