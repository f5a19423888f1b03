package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Report says what this host can isolate, for start-up logs and /healthz.
type Report struct {
	Mode            string   `json:"mode"`
	Isolated        bool     `json:"isolated"` // namespaces, unprivileged uid and cgroup memory/cpu/pids all work
	Root            bool     `json:"root"`
	UID             int      `json:"uid"` // the uid instances run as (the first of UIDs when unprivileged)
	GID             int      `json:"gid"`
	UnprivilegedUID bool     `json:"unprivilegedUid"` // instances run as uids of UIDs, not as the worker's uid
	UIDs            string   `json:"uids,omitempty"`  // the host uids instances run as, one each: "first-last"
	Bwrap           string   `json:"bwrap,omitempty"`
	BwrapVersion    string   `json:"bwrapVersion,omitempty"`
	Namespaces      bool     `json:"namespaces"` // a bubblewrap sandbox (user, pid, mount, ipc, uts) ran here
	Network         string   `json:"network"`
	PrivateNetwork  bool     `json:"privateNetwork"`   // each instance has a network namespace of its own, its Runtime API inside
	Egress          string   `json:"egress,omitempty"` // the slirp4netns binary giving instances the outside network
	Cgroup          string   `json:"cgroup,omitempty"` // "v1", "v2", or "" when unused
	CgroupParent    string   `json:"cgroupParent,omitempty"`
	Controllers     []string `json:"controllers,omitempty"`
	Rlimits         bool     `json:"rlimits"`           // limits are rlimits only (no cgroup)
	Missing         []string `json:"missing,omitempty"` // what is not isolated, and why
}

// Probe tries every part of the isolation on this host with opts (a throw-away sandbox run as
// the sandbox uid, an instance cgroup made and removed) and reports what works. The error is
// for unusable options or a cancelled ctx only; a host that cannot isolate is a Report with
// Missing filled.
func Probe(ctx context.Context, opts Options) (Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	r, _, err := probe(ctx, opts)
	return r, err
}

func probe(ctx context.Context, opts Options) (Report, *hierarchy, error) {
	r := Report{Mode: opts.Mode.String(), Root: os.Geteuid() == 0, Network: string(opts.Network)}
	miss := func(format string, args ...any) { r.Missing = append(r.Missing, fmt.Sprintf(format, args...)) }
	r.UID, r.GID = os.Geteuid(), os.Getegid()
	if r.Root {
		r.UID, r.GID, r.UnprivilegedUID = opts.FirstUID, opts.FirstUID, true
		r.UIDs = fmt.Sprintf("%d-%d", opts.FirstUID, opts.FirstUID+opts.UIDCount-1)
	} else {
		miss("the worker is not root: instances run as its own uid %d and can read what it can", r.UID)
	}

	r.Bwrap = findBwrap(opts.Bwrap)
	if r.Bwrap == "" {
		miss("bubblewrap not found (install the bubblewrap package): no pid, mount, ipc, uts or network namespaces, no private /tmp, code not read-only")
	} else {
		r.BwrapVersion = bwrapVersion(ctx, r.Bwrap)
		if err := tryBwrap(ctx, r.Bwrap, opts, r.UnprivilegedUID); err != nil {
			miss("bubblewrap cannot build a sandbox here (%v): no namespaces", err)
		} else {
			r.Namespaces = true
		}
	}
	if err := ctx.Err(); err != nil {
		return r, nil, err
	}
	if r.Namespaces {
		tryNetwork(&r, opts, miss)
	}

	var h *hierarchy
	if !r.Root {
		miss("not root: no cgroup limits (memory, cpu, pids), no OOM or peak memory reports")
	} else if hh, err := findHierarchy(opts.CgroupParent); err != nil {
		miss("no usable cgroups (%v): no memory, cpu or pids limits, no OOM or peak memory reports", err)
	} else {
		hh.sweep() // the cgroups dead workers left go before this one makes any
		if err := tryCgroup(hh); err != nil {
			miss("cannot make instance cgroups (%v): no memory, cpu or pids limits", err)
		} else {
			h = hh
			r.Cgroup, r.CgroupParent, r.Controllers = h.version, h.dirs["memory"], wantControllers
		}
	}
	r.Rlimits = h == nil
	r.Isolated = r.Namespaces && r.UnprivilegedUID && r.PrivateNetwork && h != nil
	return r, h, nil
}

// tryNetwork makes (and drops) an instance's network namespace, slirp4netns included for
// NetworkEgress, and notes what works in r.
func tryNetwork(r *Report, opts Options, miss func(string, ...any)) {
	if !r.Root {
		miss("not root: instances share the worker's network, and their Runtime API listens on the host's loopback where other instances can reach it")
		return
	}
	slirp := ""
	if opts.Network == NetworkEgress {
		if slirp = findSlirp(opts.Slirp); slirp == "" {
			miss("slirp4netns not found (install the slirp4netns package): instances get no outside network, as with --network none")
			opts.Network = NetworkNone
		}
	}
	plan, err := newNetPlan(opts, slirp)
	if err != nil {
		miss("no network plan (%v): instances share the worker's network", err)
		return
	}
	n, err := newNetwork(plan, slog.New(slog.DiscardHandler))
	if err == nil {
		err = n.waitReady()
	}
	if n != nil {
		n.close()
	}
	if err != nil {
		if opts.Network == NetworkEgress {
			miss("cannot give instances the outside network (%v): instances get none, as with --network none", err)
			r.Network = string(NetworkNone)
			plan.egress = false
			if n, err := newNetwork(plan, slog.New(slog.DiscardHandler)); err == nil {
				n.close()
				r.PrivateNetwork = true
			}
			return
		}
		miss("cannot make network namespaces (%v): instances share the worker's network", err)
		return
	}
	r.PrivateNetwork, r.Egress, r.Network = true, slirp, string(plan.network())
}

func findSlirp(p string) string { return findTool(p, DefaultSlirp, "slirp4netns") }

func findBwrap(p string) string { return findTool(p, DefaultBwrap, "bwrap") }

// findTool is p when it exists (and "" when it does not), else def when it exists, else name
// on PATH, else "".
func findTool(p, def, name string) string {
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	if _, err := os.Stat(def); err == nil {
		return def
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func bwrapVersion(ctx context.Context, bwrap string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bwrap, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "bubblewrap"))
}

// tryBwrap runs /bin/true in a sandbox of the same shape as an instance's.
func tryBwrap(ctx context.Context, bwrap string, opts Options, drop bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := []string{"--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"}
	args = append(args, newLayout(opts.ReadOnly).args...)
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--size", "1048576", "--tmpfs", "/tmp", "--", "/bin/true")
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.Dir = "/"
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if drop {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(opts.FirstUID), Gid: uint32(opts.FirstUID), Groups: []uint32{}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if b, _ := os.ReadFile("/proc/sys/user/max_user_namespaces"); strings.TrimSpace(string(b)) == "0" {
			msg += "; user namespaces are disabled (user.max_user_namespaces = 0)"
		}
		if msg == "" {
			return err
		}
		return fmt.Errorf("%w: %s", err, msg)
	}
	return nil
}

// tryCgroup makes and removes an instance cgroup with every limit set.
func tryCgroup(h *hierarchy) error {
	g, err := h.create(fmt.Sprintf("probe-%d-%d", os.Getpid(), time.Now().UnixNano()), limitsFor(128, Options{PidsLimit: DefaultPidsLimit}))
	if err != nil {
		return err
	}
	g.remove()
	for _, d := range g.dirs {
		if _, err := os.Stat(d); err == nil {
			return errors.New("a probe cgroup could not be removed: " + d)
		}
	}
	return nil
}
