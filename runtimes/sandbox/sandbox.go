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
	stage  *stage // nil when bubblewrap can reach the folders itself (the worker is not root)
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
		if !rep.Isolated {
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
		"uid", rep.UID, "unprivileged", rep.UnprivilegedUID, "cgroup", rep.Cgroup, "controllers", rep.Controllers,
		"network", opts.Network, "pids", opts.PidsLimit, "tmp_mb", opts.TmpSizeMB)
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

// Wrap rewrites cmd to run confined and returns its Jail. With namespaces, cmd becomes
// bubblewrap running the original command with the function's code at TaskRoot (also the
// working directory and LAMBDA_TASK_ROOT), the runtime's bootstrap folder at RuntimeRoot and
// the environment otherwise unchanged. The process waits, before the command runs, until
// Jail.Started has put it in its cgroup and set its limits.
func (s *Sandbox) Wrap(ctx context.Context, cmd *exec.Cmd, cfg instance.Config) (_ instance.Jail, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = instance.DefaultMemoryMB
	}
	j := &Jail{s: s, mem: mem, log: s.log.With("function", cfg.Function, "instance", cfg.ID),
		name: unsafeName.ReplaceAllString(cfg.ID, "_") + fmt.Sprintf("-%d-%d", os.Getpid(), s.seq.Add(1))}
	defer func() {
		if err != nil {
			j.Release()
		}
	}()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	sealInheritedFDs()
	if s.cg != nil {
		if j.cg, err = s.cg.create(j.name, limitsFor(mem, s.opts)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
		fd, err := j.cg.cloneFD()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrap, err)
		}
		if fd != nil {
			j.parentFiles = append(j.parentFiles, fd)
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(fd.Fd())
		}
	}
	if s.drop {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.opts.UID), Gid: uint32(s.opts.GID), Groups: []uint32{}}
	}
	runtimeDir, err := s.layout.runtimeDir(cmd.Args[1:], cfg.CodeDir)
	if err != nil {
		return nil, err
	}
	p := paths{code: cfg.CodeDir, codeTo: cfg.CodeDir, runtime: runtimeDir, runtimeTo: runtimeDir}
	if s.stage != nil {
		if p.codeTo, err = j.stageDir(s.stage, j.name+"-task", cfg.CodeDir); err != nil {
			return nil, fmt.Errorf("%w: code folder: %w", ErrWrap, err)
		}
		if runtimeDir != "" {
			if p.runtimeTo, err = j.stageDir(s.stage, j.name+"-runtime", runtimeDir); err != nil {
				return nil, fmt.Errorf("%w: runtime folder: %w", ErrWrap, err)
			}
		}
	}
	fds := &fdArgs{base: len(cmd.ExtraFiles)}
	if s.bwrap != "" {
		err = s.wrapBwrap(cmd, p, j, fds)
	} else {
		err = s.wrapShell(cmd, p, j, fds)
	}
	j.childFiles = append(j.childFiles, fds.files...)
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, fds.files...)
	return j, nil
}

// wrapBwrap makes cmd bubblewrap's, showing the (staged) folders of p at TaskRoot and
// RuntimeRoot.
func (s *Sandbox) wrapBwrap(cmd *exec.Cmd, p paths, j *Jail, fds *fdArgs) (err error) {
	if !s.layout.visible(cmd.Path) && !p.inCode(cmd.Path) {
		return fmt.Errorf("%w: interpreter %s is outside the folders the sandbox shows; add its folder to the read-only folders", ErrWrap, cmd.Path)
	}
	spec := bwrapSpec{network: s.opts.Network, tmpBytes: int64(s.opts.TmpSizeMB) << 20, uid: s.opts.UID, gid: s.opts.GID,
		codeDir: p.codeTo, runtimeDir: p.runtimeTo}
	if !s.drop {
		spec.uid, spec.gid = os.Geteuid(), os.Getegid()
	}
	inside := paths{code: p.code, codeTo: TaskRoot, runtime: p.runtime, runtimeTo: RuntimeRoot}
	if j.info, spec.info, err = os.Pipe(); err != nil {
		return fmt.Errorf("%w: %w", ErrWrap, err)
	}
	j.childFiles = append(j.childFiles, spec.info)
	if spec.block, j.gate, err = os.Pipe(); err != nil {
		return fmt.Errorf("%w: %w", ErrWrap, err)
	}
	j.childFiles = append(j.childFiles, spec.block)
	args, err := s.bwrapArgs(spec, fds)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrap, err)
	}
	argv := append([]string{s.bwrap}, args...)
	argv = append(argv, inside.rewrite(cmd.Path)) // the function's own executable runs from TaskRoot
	for _, a := range cmd.Args[1:] {
		argv = append(argv, inside.rewrite(a))
	}
	if s.opts.Network == NetworkNone {
		j.apiAddr = lookupEnv(cmd.Env, "AWS_LAMBDA_RUNTIME_API")
		if j.apiAddr == "" {
			return fmt.Errorf("%w: network none needs AWS_LAMBDA_RUNTIME_API in the environment", ErrWrap)
		}
	}
	cmd.Path, cmd.Args = s.bwrap, argv
	cmd.Env = inside.env(cmd.Env)
	cmd.Dir = "/"
	return nil
}

// gateScript waits for a line on fd 3 (sent by Started once the process is in its cgroup and
// under its limits), then runs the command without that descriptor. It ends with 125 when the
// worker goes away first.
const gateScript = `read -r _ <&3 || exit 125; exec "$0" "$@" 3<&-`

// wrapShell gates the command behind a shell that waits for Started, when there are no
// namespaces; the (staged) folders of p replace the host's in its arguments, environment and
// working directory.
func (s *Sandbox) wrapShell(cmd *exec.Cmd, p paths, j *Jail, fds *fdArgs) error {
	if fds.base != 0 {
		return fmt.Errorf("%w: the command already passes extra files", ErrWrap)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrap, err)
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
	return nil
}

func lookupEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
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
