// Package sandbox confines function instances (it implements instance.Sandbox) with
// bubblewrap, an unprivileged uid and cgroups (v1 or v2), and says plainly where the host
// cannot.
//
// # What an instance gets
//
// New probes the host once. On a host where everything works (root, bubblewrap with user
// namespaces, the cgroup memory, cpu and pids controllers), each instance process:
//
//   - runs as Options.UID/GID outside the sandbox too (bubblewrap itself is started with those
//     credentials and builds its namespaces through a user namespace), with no capabilities and
//     no way to make further user namespaces;
//   - has its own pid, mount, ipc, uts and cgroup namespaces and a new session (no controlling
//     terminal); with NetworkNone also its own network namespace holding only a loopback;
//   - sees a new root holding: /usr and the /bin, /sbin, /lib* folders (read-only or the same
//     symlinks), a few pieces of /etc (ld.so cache and config, time zone, TLS certificates,
//     resolv.conf, hosts, nsswitch, services, protocols, alternatives, python3*), a passwd and
//     group naming only root and the sandbox user, a fresh /proc of its own pid namespace, a
//     minimal /dev, a private /tmp (tmpfs capped at Options.TmpSizeMB), the function's code
//     read-only at TaskRoot (/var/task, the working directory and LAMBDA_TASK_ROOT) and the
//     runtime's bootstrap folder read-only at RuntimeRoot (/var/runtime), plus Options.ReadOnly;
//   - sits in its own cgroup before it can run anything: memory limit = the function's memory
//     (swap off where settable), CPU weight in proportion to memory (1769 MB = one CPU's share,
//     a hard quota too with Options.CPUQuota), pids limit Options.PidsLimit (threads count).
//
// Nothing else of the host is visible: not /etc/shadow nor the host's accounts, not the
// worker's data folder, other functions' code, home folders or configuration (the API token),
// not the host's processes (so it can signal none of them). The environment is exactly the one
// the instance built, with host paths of the code and bootstrap folders rewritten to their
// inside paths.
//
// # How it starts
//
// Wrap rewrites the command into bubblewrap's. bubblewrap resolves every source path as the
// sandbox uid, which cannot enter a private data folder, so a root worker first bind-mounts the
// code and bootstrap folders read-only into a staging folder of its own (a private mount under
// the temporary folder, traversable but not listable; Sandbox.Close removes it, and New clears
// those of dead workers). The sandbox uid needs read access to the code files themselves.
// bubblewrap blocks before running the command (--block-fd) and reports its
// child's pid (--info-fd); Jail.Started moves both processes into the cgroup (v1; on v2 the
// process is cloned straight into it), sets rlimits when there is no cgroup, opens the
// Runtime API bridge for NetworkNone, and only then lets the command run. The instance's
// process group is bubblewrap's: killing it kills bubblewrap, whose sandbox dies with it
// (--die-with-parent, and the pid namespace ends with its first process). Release kills what is
// left in the cgroup and removes it.
//
// # Network
//
// NetworkHost (the default) shares the host's network, as Lambda does: the function reaches
// the Runtime API on the host's loopback, and anything else listening there. NetworkNone gives
// an empty namespace; the Runtime API reaches it through a listener the worker opens inside
// that namespace on the same address, forwarding to the instance's server (one extra local
// hop per request).
//
// # Reports
//
// Usage gives the peak memory since ResetPeak (v1 memory.max_usage_in_bytes, reset by writing
// 0; v2 memory.peak, reset per open file on kernels that allow it, else the peak since start)
// and whether the memory limit killed a process (v1 memory.oom_control oom_kill, v2
// memory.events oom_kill). Forks refused by the pids limit are logged and in Jail.Stats. The
// /tmp tmpfs is charged to the memory limit; filling it gives ENOSPC inside.
//
// # Degraded hosts
//
// Auto mode uses whatever works and logs a warning for each missing part; without cgroups it
// sets rlimits (data segment = memory, file size = the /tmp cap, no core files) on the process
// before it runs, which bound one process, not its children, and report no OOM or peak. Without
// bubblewrap nothing is hidden or read-only. Required refuses to start unless everything works.
// Off uses rlimits only. Report tells which case holds.
//
// # Not isolated
//
// The kernel is shared (no seccomp filter, no VM); every instance of a worker runs as the same
// uid; with NetworkHost, the function reaches whatever listens on the host's network; the
// bubblewrap process outside the sandbox holds the function's environment (readable by that
// uid on the host); /dev/shm is not size-capped beyond the memory limit.
package sandbox
