package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Paths inside the sandbox, as on Lambda.
const (
	TaskRoot    = "/var/task"    // the function's code, read-only, the working directory
	RuntimeRoot = "/var/runtime" // the runtime's bootstrap folder, read-only
	Hostname    = "sluice"
)

// systemDirs are the host folders shown read-only at the same place (or recreated as the same
// symlinks, on merged-/usr hosts).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles are the pieces of /etc interpreters and their libraries read; everything else of
// /etc (shadow, the host's passwd, credentials, configuration) stays out. Globs allowed.
var etcFiles = []string{
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "ssl", "ca-certificates",
	"ca-certificates.conf", "pki", "resolv.conf", "hosts", "host.conf", "nsswitch.conf", "gai.conf",
	"protocols", "services", "mime.types", "alternatives", "os-release", "debian_version", "python3*",
	"php", "java-*-openjdk", "mono", // php.ini and its extensions; the JDK's and Mono's configuration
}

// layout is the host's part of every sandbox: which system folders exist and how.
type layout struct {
	args []string // bwrap arguments for the system folders and /etc pieces
	dirs []string // host folders visible inside at the same path
}

func newLayout(extra []string) layout {
	var l layout
	for _, d := range systemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				continue
			}
			l.args = append(l.args, "--symlink", target, d)
		case fi.IsDir():
			l.args = append(l.args, "--ro-bind", d, d)
			l.dirs = append(l.dirs, d)
		}
	}
	for _, pat := range etcFiles {
		matches, _ := filepath.Glob(filepath.Join("/etc", pat))
		for _, m := range matches {
			l.args = append(l.args, "--ro-bind-try", m, m)
		}
	}
	for _, d := range extra {
		d = filepath.Clean(d)
		l.args = append(l.args, "--ro-bind", d, d)
		l.dirs = append(l.dirs, d)
	}
	return l
}

// visible reports whether host path p is shown inside at the same path.
func (l layout) visible(p string) bool {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	for _, d := range l.dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// fdArgs collects files handed to the child and numbers them as it will see them.
type fdArgs struct {
	base  int // len(cmd.ExtraFiles) before ours
	files []*os.File
}

// add hands f to the child and returns its descriptor number there.
func (a *fdArgs) add(f *os.File) string {
	a.files = append(a.files, f)
	return strconv.Itoa(3 + a.base + len(a.files) - 1)
}

// passwd and group give the sandbox user a name, and nothing of the host's accounts.
func passwdFile(uid, gid int) string {
	return fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsluice:x:%d:%d:sluice function:/tmp:/usr/sbin/nologin\n", uid, gid)
}

func groupFile(gid int) string {
	return fmt.Sprintf("root:x:0:\nsluice:x:%d:\n", gid)
}

// bindMount shows host folder src at dst inside, read-only unless rw.
type bindMount struct {
	src, dst string
	rw       bool
}

// bwrapSpec is what one instance's bubblewrap command line is made of.
type bwrapSpec struct {
	tmpBytes int64
	uid, gid int         // inside the sandbox
	mounts   []bindMount // host folders shown inside (staged when the worker is root)
	chdir    string      // the working directory inside
	ownNet   bool        // bubblewrap starts in the instance's own network namespace
	env      []string    // the command's whole environment, set inside only
	info     *os.File    // write end
	block    *os.File    // read end
}

// bwrapArgs is bubblewrap's command line up to and including the "--" before the command.
// Everything but "--args N --" travels in a sealed memfd, so the host's process list shows
// none of it (the function's variables least of all).
func (s *Sandbox) bwrapArgs(spec bwrapSpec, fds *fdArgs) ([]string, error) {
	args := []string{
		"--unshare-user", "--disable-userns",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--uid", strconv.Itoa(spec.uid), "--gid", strconv.Itoa(spec.gid),
	}
	args = append(args, "--hostname", Hostname, "--die-with-parent", "--new-session", "--cap-drop", "ALL")
	args = append(args, s.layout.args...)
	pw, err := filledPipe([]byte(passwdFile(spec.uid, spec.gid)))
	if err != nil {
		return nil, fmt.Errorf("passwd: %w", err)
	}
	grp, err := filledPipe([]byte(groupFile(spec.gid)))
	if err != nil {
		_ = pw.Close()
		return nil, fmt.Errorf("group: %w", err)
	}
	args = append(args,
		"--perms", "0644", "--ro-bind-data", fds.add(pw), "/etc/passwd",
		"--perms", "0644", "--ro-bind-data", fds.add(grp), "/etc/group",
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.FormatInt(spec.tmpBytes, 10), "--perms", "1777", "--tmpfs", "/tmp",
	)
	for _, m := range spec.mounts {
		flag := "--ro-bind"
		if m.rw {
			flag = "--bind"
		}
		args = append(args, flag, m.src, m.dst)
	}
	if spec.ownNet {
		// The host's resolver may sit on its loopback, which the instance cannot reach:
		// slirp4netns answers DNS at 10.0.2.3 and forwards to it.
		rc, err := filledPipe([]byte("nameserver 10.0.2.3\n"))
		if err != nil {
			return nil, fmt.Errorf("resolv.conf: %w", err)
		}
		args = append(args, "--perms", "0644", "--ro-bind-data", fds.add(rc), "/etc/resolv.conf")
	}
	// The new root and /dev are bubblewrap's tmpfs: read-only, so /tmp is the only place to write.
	args = append(args, "--remount-ro", "/dev", "--remount-ro", "/")
	args = append(args, "--clearenv")
	for _, kv := range spec.env {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", k, v)
	}
	filter, err := seccompFilter()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	args = append(args,
		"--seccomp", fds.add(filter),
		"--chdir", spec.chdir,
		"--info-fd", fds.add(spec.info),
		"--block-fd", fds.add(spec.block),
	)
	var data []byte
	for _, a := range args {
		data = append(append(data, a...), 0)
	}
	argsFile, err := sealedMemfd("sluice-bwrap-args", data)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	return []string{"--args", fds.add(argsFile), "--"}, nil
}

// runtimeDir finds the command's arguments that name files outside the folders the sandbox
// shows (a runtime's bootstrap): they must all live in one folder, shown at RuntimeRoot.
func (l layout) runtimeDir(args []string, codeDir string) (string, error) {
	dir := ""
	for _, a := range args {
		if !filepath.IsAbs(a) || l.visible(a) || a == codeDir || strings.HasPrefix(a, codeDir+"/") {
			continue
		}
		fi, err := os.Stat(a)
		if err != nil || fi.IsDir() {
			continue
		}
		d := filepath.Dir(a)
		if dir != "" && d != dir {
			return "", fmt.Errorf("%w: arguments name files in two folders outside the sandbox: %s and %s", ErrWrap, dir, d)
		}
		dir = d
	}
	return dir, nil
}

// paths maps the host's code and runtime folders to where the process sees them.
type paths struct {
	code, codeTo       string
	runtime, runtimeTo string // "" when the command has no runtime folder
}

// rewrite maps host paths under the code and runtime folders to the process's view of them.
func (p paths) rewrite(s string) string {
	repl := func(s, from, to string) string {
		if from == "" || from == to {
			return s
		}
		if s == from {
			return to
		}
		return strings.ReplaceAll(s, from+"/", to+"/")
	}
	return repl(repl(s, p.code, p.codeTo), p.runtime, p.runtimeTo)
}

// inCode reports whether path is a file of the (host's) code folder: a runtime whose code
// brings its own executable.
func (p paths) inCode(path string) bool {
	return p.code != "" && strings.HasPrefix(path, p.code+"/")
}

// env rewrites the instance's environment for the process: LAMBDA_TASK_ROOT and every value
// naming the code or runtime folders follow them. Nothing is added or dropped.
func (p paths) env(env []string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		k, v, _ := strings.Cut(kv, "=")
		out[i] = k + "=" + p.rewrite(v)
	}
	return out
}
