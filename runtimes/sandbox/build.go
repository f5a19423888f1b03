package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"sluice.dev/runtimes/build"
)

// The limits of a deploy-time build: compilers want more than a function's default.
const (
	BuildMemoryMB  = 2048 // memory of the build's processes, its /tmp included
	BuildPidsLimit = 1024 // processes and threads: the go command runs compilers side by side
	BuildTmpMB     = 512  // its private /tmp
)

// Run runs one toolchain command of a deploy-time build over uploaded code (build.Runner),
// confined as an instance is: a host uid of its own, an empty environment but the Command's,
// its own namespaces (pid, mount, ipc, uts, network) under the seccomp filter, the system
// folders and the Command's Read folders read-only, only its Write folders writable (at the
// same paths as on the host), and the BuildMemoryMB, BuildPidsLimit and BuildTmpMB limits. It
// reaches the outside network (through slirp4netns, as an instance does) only when the Command
// says it needs it, and never the host's loopback or addresses. The Write folders belong to the
// build's uid while it runs and to root again after it. On a host without bubblewrap, it runs
// the command as build.Direct does.
func (s *Sandbox) Run(ctx context.Context, c build.Command) ([]byte, error) {
	if !filepath.IsAbs(c.Path) {
		return nil, fmt.Errorf("run %q: the tool is not an absolute path", c.Path)
	}
	if s.bwrap == "" {
		return build.Direct{}.Run(ctx, c)
	}
	opts := s.opts
	opts.PidsLimit, opts.TmpSizeMB = BuildPidsLimit, BuildTmpMB
	var plan *netPlan
	if s.plan != nil {
		p := *s.plan
		p.egress = p.egress && c.Network
		p.allow = nil
		plan = &p
	}
	j, err := s.newJail(ctx, "build-"+filepath.Base(c.Path), BuildMemoryMB, false, opts, plan, s.log.With("build", filepath.Base(c.Path)))
	if err != nil {
		return nil, err
	}
	defer j.Release()
	if j.uid != nil {
		if err := chownTrees(c.Write, j.uid.uid); err != nil {
			return nil, fmt.Errorf("build folders: %w", err)
		}
		defer func() { _ = chownTrees(c.Write, 0) }()
	}
	if !s.layout.visible(c.Path) && !under(c.Path, c.Read) {
		return nil, fmt.Errorf("%w: the tool %s is outside the folders the build sees", ErrWrap, c.Path)
	}
	spec := bwrapSpec{tmpBytes: int64(opts.TmpSizeMB) << 20, uid: s.opts.UID, gid: s.opts.GID, chdir: c.Dir,
		ownNet: j.net != nil, env: c.Env}
	if !s.drop {
		spec.uid, spec.gid = os.Geteuid(), os.Getegid()
	}
	for n, dir := range append(append([]string{}, c.Read...), c.Write...) {
		rw := n >= len(c.Read)
		src := dir
		if s.stage != nil {
			if src, err = j.stageDir(strconv.Itoa(n), dir, rw); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrWrap, err)
			}
		}
		spec.mounts = append(spec.mounts, bindMount{src: src, dst: dir, rw: rw})
	}
	cmd := &exec.Cmd{Path: c.Path, Args: append([]string{c.Path}, c.Args...),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	var out bytes.Buffer
	capped := &limitedBuffer{buf: &out, max: build.MaxOutput}
	cmd.Stdout, cmd.Stderr = capped, capped
	if err := j.wrapCommand(cmd, spec); err != nil {
		return nil, err
	}
	if err := j.Start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	j.closeChildFiles()
	if err := j.Started(cmd.Process.Pid); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return out.Bytes(), fmt.Errorf("sandbox: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err = cmd.Wait()
	stop()
	if ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if st := j.Stats(); st.OOMKills > 0 {
		return out.Bytes(), fmt.Errorf("the build ran out of its %d MB of memory: %w", BuildMemoryMB, err)
	}
	return out.Bytes(), err
}

// wrapCommand makes cmd bubblewrap's after spec, with the command's environment set inside
// only (the gate and info pipes as for an instance).
func (j *Jail) wrapCommand(cmd *exec.Cmd, spec bwrapSpec) (err error) {
	s := j.s
	if j.cgFD != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(j.cgFD.Fd())
	}
	if j.uid != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(j.uid.uid), Gid: uint32(j.uid.uid), Groups: []uint32{}}
	}
	fds := &fdArgs{}
	defer func() {
		j.mu.Lock()
		j.childFiles = append(j.childFiles, fds.files...)
		j.mu.Unlock()
	}()
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
	cmd.Args = append(append([]string{s.bwrap}, args...), cmd.Args...)
	cmd.Path = s.bwrap
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.ExtraFiles = fds.files
	return nil
}

// under reports whether p lies in one of dirs.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// chownTrees gives every file and folder under dirs to uid (and the same gid), without
// following symbolic links. Files with more than one link are left alone: they are shared
// with other trees (a cache seeded by hard links), which a build must not be able to change.
func chownTrees(dirs []string, uid int) error {
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil {
					if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
						return nil
					}
				}
			}
			return os.Lchown(p, uid, uid)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var _ build.Runner = (*Sandbox)(nil)
