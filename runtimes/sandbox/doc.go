// Package sandbox confines function instances (it implements instance.Sandbox) with
// bubblewrap, an unprivileged uid and cgroups (v1 or v2), and says plainly where the host
// cannot.
//
// # What an instance gets
//
// New probes the host once. On a host where everything works (root, bubblewrap with user
// namespaces, the cgroup memory, cpu and pids controllers), each instance process:
//
//   - runs as a host uid (and gid) of its own, from the range Options.FirstUID/UIDCount, held
//     by no other live instance on the host whichever worker made it (bubblewrap itself is
//     started with those credentials and builds its namespaces through a user namespace;
//     inside, the process is Options.UID/GID), with no capabilities and no way to make further
//     user namespaces; an escaped process can neither read another instance's staged code nor
//     its /proc;
//   - has its own pid, mount, ipc, uts, cgroup and network namespaces and a new session (no
//     controlling terminal);
//   - runs under a seccomp filter (seccomp.go) refusing ptrace, mounts, namespaces, keyrings,
//     bpf, perf events, userfaultfd, io_uring, module and clock administration;
//   - sees a new root holding: /usr and the /bin, /sbin, /lib* folders (read-only or the same
//     symlinks), a few pieces of /etc (ld.so cache and config, time zone, TLS certificates,
//     resolv.conf, hosts, nsswitch, services, protocols, alternatives, python3*), a passwd and
//     group naming only root and the sandbox user, a fresh /proc of its own pid namespace, a
//     minimal /dev, a private /tmp (tmpfs capped at Options.TmpSizeMB), the function's code
//     read-only at TaskRoot (/var/task, the working directory and LAMBDA_TASK_ROOT) and the
//     runtime's bootstrap folder read-only at RuntimeRoot (/var/runtime), plus Options.ReadOnly;
//   - sits in its own cgroup before it can run anything: memory limit = the function's memory
//     (swap off where settable), CPU weight in proportion to memory (1769 MB = one CPU's share,
//     a hard quota too with Options.CPUQuota; the least weight for a process pre-started for no
//     function yet, until Limit gives it its function's), pids limit Options.PidsLimit (threads count).
//
// Nothing else of the host is visible: not /etc/shadow nor the host's accounts, not the
// worker's data folder, other functions' code, home folders or configuration (the API token),
// not the host's processes (so it can signal none of them). The environment is exactly the one
// the instance built, with host paths of the code and bootstrap folders rewritten to their
// inside paths; it is set inside the sandbox only (--clearenv, --setenv): bubblewrap, which runs
// outside every namespace, starts with an empty environment and reads its arguments from a
// sealed memfd (--args), so neither the loader of bubblewrap nor the host's process list sees
// any of the function's variables.
//
// # How it starts
//
// Jail prepares an instance before its command exists (uid, cgroup, network namespace); Wrap
// rewrites the command into bubblewrap's. bubblewrap resolves every source path as the
// sandbox uid, which cannot enter a private data folder, so a root worker first bind-mounts the
// code and bootstrap folders read-only into a staging folder of its own (a private mount under
// the temporary folder, traversable but not listable; Sandbox.Close removes it, and New clears
// those of dead workers). The sandbox uid needs read access to the code files themselves.
// bubblewrap blocks before running the command (--block-fd) and reports its
// child's pid (--info-fd); Jail.Start forks bubblewrap from a thread inside the instance's
// network namespace; Jail.Started moves both processes into the cgroup (v1; on v2 the
// process is cloned straight into it), sets rlimits when there is no cgroup, waits until the
// outside network is configured, and only then lets the command run. The instance's
// process group is bubblewrap's: killing it kills bubblewrap, whose sandbox dies with it
// (--die-with-parent, and the pid namespace ends with its first process). Release kills what is
// left in the cgroup and removes it; New removes the cgroups of workers that died without
// releasing theirs.
//
// # Network
//
// The worker (root) makes every instance's network namespace itself (network.go): the
// namespace belongs to the host's user namespace, so nothing inside has any power over it. Its
// loopback holds the instance's Runtime API at RuntimeAPIAddr (127.0.0.1:9001, as Lambda's),
// served by the worker on a listener opened inside: no host process and no other instance can
// connect to it, pre-started processes and their specialisation included. bubblewrap is forked
// from a thread that entered the namespace, so the sandbox lives in it.
//
// NetworkEgress (the default) adds slirp4netns, user-mode networking: the instance's packets
// become connections the host opens for it, like Lambda's outbound network. slirp4netns runs
// without capabilities in a mount namespace of its own under its own seccomp filter, never
// reaches the host's loopback (--disable-host-loopback), and ends with the instance or the
// worker (--exit-fd). Routes inside the namespace refuse (EACCES) the link-local range
// (169.254.0.0/16: cloud metadata services) and every IPv4 address of the host, so a service
// bound to 0.0.0.0 stays out of reach. DNS goes to slirp4netns at 10.0.2.3, which forwards it
// to the host's resolvers. There is no IPv6. slirp4netns was chosen over pasta because this
// distribution's pasta cannot join a namespace once it has dropped root (it would have to run
// as root), and holds about 20 MB per instance against slirp4netns's 3 MB.
//
// Options.Allow names host addresses a function may reach anyway (the gateway, say): the
// worker listens at the same address inside each namespace and forwards the connections
// (bridge.go). NetworkNone keeps only the loopback: no outside network, no allowed address.
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
// The kernel is shared (a seccomp deny list, no VM). A worker that is not root cannot make
// network namespaces or change uids, so its instances share its network (their Runtime API on
// the host's loopback) and its uid, and Report says so. /dev/shm is not size-capped beyond the
// memory limit. slirp4netns and the forwarders of allowed addresses run outside the
// instance's cgroup.
package sandbox
