package sandbox

// The seccomp filter bubblewrap installs (--seccomp FD) on the command it runs, just before
// executing it: a deny list, compiled once per process into classic BPF with
// github.com/elastic/go-seccomp-bpf and handed to each bubblewrap in a sealed memfd (a pipe
// where memfd is unavailable). It shrinks the kernel a function can reach; it does not replace
// the namespaces, the dropped capabilities or the cgroup.
//
// Policy, checked in this order:
//
//   - Architecture: only the worker's own ABI (x86_64 or arm64) is filtered by name, so a
//     system call made through another one (int 0x80 i386 calls on x86_64, 32-bit compat calls
//     on arm64) kills the process: its numbers mean other calls and would slip past the list.
//     On x86_64 the x32 ABI (numbers with bit 30 set, same audit arch) gets ENOSYS for the same
//     reason. Other architectures get no filter: seccompFilter returns an error.
//   - Reading or steering other processes, EPERM: ptrace, process_vm_readv, process_vm_writev,
//     kcmp, pidfd_getfd. Every instance of a worker runs as the same uid, and ptrace is also
//     the classic way around a seccomp filter on old kernels; no runtime needs them to serve
//     requests.
//   - Mounts and namespaces, EPERM: mount, umount2, pivot_root, move_mount, open_tree, fsopen,
//     fsconfig, fsmount, fspick, mount_setattr, setns, unshare. bubblewrap builds the file view
//     and the namespaces (and already refuses new user namespaces); without capabilities these
//     would fail anyway, this keeps their large kernel code out of reach. clone and clone3 are
//     not filtered: threads need them, clone3's flags sit in memory a filter cannot read, and
//     namespace flags still need the capabilities the sandbox does not have.
//   - Kernel keyrings, EPERM: keyctl, add_key, request_key. Keyrings are per uid, not per
//     namespace, so instances would share them; a long record of kernel bugs.
//   - Kernel programmability and introspection, EPERM: bpf, perf_event_open, userfaultfd,
//     fanotify_init, lookup_dcookie, syslog. Large attack surface (userfaultfd is a common
//     exploit primitive), information about the host, and no use to a function.
//   - Machine administration, EPERM: kexec_load, kexec_file_load, init_module, finit_module,
//     delete_module, reboot, swapon, swapoff, acct, quotactl, quotactl_fd, settimeofday,
//     clock_settime, clock_adjtime, adjtimex, vhangup, nfsservctl, and on x86_64 only iopl,
//     ioperm, uselib (arm64 has no such calls). They all need capabilities a function never
//     has; refusing them at the door skips their argument parsing. (adjtimex and
//     clock_adjtime also have a read-only mode; it is refused too.)
//   - File handles, EPERM: open_by_handle_at, name_to_handle_at. open_by_handle_at opens files
//     by inode, around the mount view (the way out of early Docker containers).
//   - personality, EPERM unless the argument is one of PER_LINUX (0), PER_LINUX32 (8), UNAME26
//     (0x20000), UNAME26|PER_LINUX32 or the query 0xffffffff. The other flags turn off address
//     space randomisation (ADDR_NO_RANDOMIZE) or make readable memory executable
//     (READ_IMPLIES_EXEC) for what the process runs next; the kept values are those programs
//     use in practice (node, python, java, mono, php and go call none at all).
//   - io_uring_setup, io_uring_enter, io_uring_register, ENOSYS: operations submitted through
//     a ring are never seen by the filter, and io_uring is a fast-moving, often vulnerable part
//     of the kernel. ENOSYS, not EPERM, reads as "kernel without io_uring", so libuv (node)
//     and others fall back to their thread pools.
//   - Everything else is allowed.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Refusals written into the filter's return values.
var (
	seccompEPERM  = seccomp.Action(uint32(seccomp.ActionErrno) | uint32(unix.EPERM))
	seccompENOSYS = seccomp.Action(uint32(seccomp.ActionErrno) | uint32(unix.ENOSYS))
)

// seccompGroups is the policy's deny list for one architecture's system call table.
func seccompGroups(a *arch.Info) []seccomp.SyscallGroup {
	eperm := []string{
		// other processes
		"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
		// mounts and namespaces
		"mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
		"fsmount", "fspick", "mount_setattr", "setns", "unshare",
		// keyrings
		"keyctl", "add_key", "request_key",
		// kernel programmability and introspection
		"bpf", "perf_event_open", "userfaultfd", "fanotify_init", "lookup_dcookie", "syslog",
		// machine administration
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "settimeofday",
		"clock_settime", "clock_adjtime", "adjtimex", "vhangup", "nfsservctl",
		// file handles
		"open_by_handle_at", "name_to_handle_at",
	}
	if a == arch.X86_64 {
		// Not in arm64's table: no port I/O there, and uselib never existed.
		eperm = append(eperm, "iopl", "ioperm", "uselib")
	}
	// personality is refused unless the new persona is one of these (all conditions must
	// hold for the refusal). The query value is listed zero- and sign-extended, as callers
	// pass it either way in a 64-bit register.
	var persona seccomp.ArgumentConditions
	for _, v := range []uint64{0, 0x8, 0x20000, 0x20008, 0xffffffff, 0xffffffffffffffff} {
		persona = append(persona, seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: v})
	}
	return []seccomp.SyscallGroup{
		{Action: seccompEPERM, Names: eperm},
		{Action: seccompEPERM, NamesWithCondtions: []seccomp.NameWithConditions{
			{Name: "personality", Conditions: persona},
		}},
		{Action: seccompENOSYS, Names: []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}},
	}
}

// compiledSeccomp is the filter as bubblewrap reads it, built on first use.
var compiledSeccomp = sync.OnceValues(compileSeccomp)

// compileSeccomp assembles the policy for the running architecture into an array of struct
// sock_filter (u16 code, u8 jt, u8 jf, u32 k; native byte order).
func compileSeccomp() ([]byte, error) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return nil, fmt.Errorf("seccomp filter: architecture %s not supported", runtime.GOARCH)
	}
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	policy := seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: seccompGroups(native)}
	body, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	// The library sends a foreign architecture to the default action (allow); kill it first.
	prog := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)},
	}, body...)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	if len(raw) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp filter: %d instructions, the kernel takes %d", len(raw), unix.BPF_MAXINSNS)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// seccompFilter returns a descriptor (read end of a pipe, or a sealed memfd) holding the compiled
// filter for bwrap's --seccomp; the caller hands it to the child and closes its copy.
func seccompFilter() (*os.File, error) {
	prog, err := compiledSeccomp()
	if err != nil {
		return nil, err
	}
	f, err := sealedMemfd("sluice-seccomp", prog)
	if err == nil {
		return f, nil
	}
	f, perr := filledPipe(prog)
	if perr != nil {
		return nil, fmt.Errorf("seccomp filter: memfd: %w; pipe: %w", err, perr)
	}
	return f, nil
}

// sealedMemfd returns a memfd holding data, sealed against any change, positioned at its start.
func sealedMemfd(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err = f.Write(data); err == nil {
		_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS,
			unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	}
	if err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// pipeMinBuffer is what a new pipe holds at least, even for a user over its pipe quota.
const pipeMinBuffer = 4096

// filledPipe returns the read end of a pipe holding data, its write end closed.
func filledPipe(data []byte) (*os.File, error) {
	if len(data) > pipeMinBuffer {
		return nil, errors.New("data larger than a pipe is sure to hold")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}
