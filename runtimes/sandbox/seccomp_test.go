package sandbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Every name of the policy is in the system call table of both supported architectures
// (assembling checks only the running one).
func TestSeccompNamesBothArches(t *testing.T) {
	for _, a := range []*arch.Info{arch.X86_64, arch.AARCH64} {
		n := 0
		for _, g := range seccompGroups(a) {
			names := append([]string(nil), g.Names...)
			for _, c := range g.NamesWithCondtions {
				names = append(names, c.Name)
			}
			for _, name := range names {
				n++
				if _, ok := a.SyscallNames[name]; !ok {
					t.Errorf("%s: %q is not in the system call table", a.Name, name)
				}
			}
		}
		t.Logf("%s: %d system calls refused", a.Name, n)
	}
}

func TestSeccompCompiledOnce(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		if _, err := seccompFilter(); err == nil {
			t.Fatalf("seccompFilter on %s: no error", runtime.GOARCH)
		}
		t.Skipf("no filter for %s", runtime.GOARCH)
	}
	a, err := compiledSeccomp()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := compiledSeccomp()
	if len(a) == 0 || len(a)%8 != 0 || &a[0] != &b[0] {
		t.Fatalf("program of %d bytes, compiled once: %v", len(a), &a[0] == &b[0])
	}
	t.Logf("%d instructions", len(a)/8)

	f, err := seccompFilter()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("descriptor holds %d bytes (%v), want the %d compiled", len(got), err, len(a))
	}
	if _, err := unix.Pwrite(int(f.Fd()), []byte{0}, 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("writing to the memfd: %v, want EPERM (sealed)", err)
	}

	p, err := filledPipe(a)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, err := io.ReadAll(p); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("pipe holds %d bytes (%v), want the %d compiled", len(got), err, len(a))
	}
}

// seccompData lays out a struct seccomp_data as the program loads it: x/net/bpf's VM reads
// words big-endian where the kernel reads them native, so each 32-bit word is stored big-endian
// at its native place.
func seccompData(auditArch, nr uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], auditArch)
	lo, hi := 0, 4
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		lo, hi = 4, 0
	}
	for i, a := range args {
		off := 16 + 8*i
		binary.BigEndian.PutUint32(b[off+lo:], uint32(a))
		binary.BigEndian.PutUint32(b[off+hi:], uint32(a>>32))
	}
	return b
}

// The bytes handed to bubblewrap, decoded and run in a BPF interpreter, give each case the
// policy's action: every refused name, the foreign architectures, x32, personality's arguments.
func TestSeccompProgram(t *testing.T) {
	prog, err := compiledSeccomp()
	if err != nil {
		t.Skip(err)
	}
	raw := make([]bpf.RawInstruction, len(prog)/8)
	for i := range raw {
		b := prog[8*i:]
		raw[i] = bpf.RawInstruction{Op: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	native, _ := arch.GetInfo("")
	id := uint32(native.ID)
	nr := func(name string) uint32 { return uint32(native.SyscallNames[name]) }
	allow, kill := uint32(seccomp.ActionAllow), uint32(seccomp.ActionKillProcess)
	eperm, enosys := uint32(seccompEPERM), uint32(seccompENOSYS)

	type tc struct {
		what string
		data []byte
		want uint32
	}
	cases := []tc{
		{"getpid", seccompData(id, nr("getpid")), allow},
		{"read", seccompData(id, nr("read"), 0, 0, 0), allow},
		{"clone", seccompData(id, nr("clone"), unix.CLONE_VM|unix.CLONE_THREAD), allow},
		{"i386 getpid", seccompData(uint32(arch.I386.ID), 20), kill},
		{"arm getpid", seccompData(uint32(arch.ARM.ID), 20), kill},
		{"aarch64 on x86_64 or x86_64 on aarch64", seccompData(uint32(arch.AARCH64.ID)^uint32(arch.X86_64.ID)^id, 172), kill},
		{"personality(ADDR_NO_RANDOMIZE)", seccompData(id, nr("personality"), 0x0040000), eperm},
		{"personality(READ_IMPLIES_EXEC)", seccompData(id, nr("personality"), 0x0400000), eperm},
		{"personality(PER_LINUX)", seccompData(id, nr("personality"), 0), allow},
		{"personality(PER_LINUX32)", seccompData(id, nr("personality"), 8), allow},
		{"personality(UNAME26)", seccompData(id, nr("personality"), 0x20000), allow},
		{"personality(query)", seccompData(id, nr("personality"), 0xffffffff), allow},
		{"personality(query, sign-extended)", seccompData(id, nr("personality"), 0xffffffffffffffff), allow},
	}
	if native == arch.X86_64 {
		cases = append(cases, tc{"x32 getpid", seccompData(id, 0x40000000|nr("getpid")), enosys})
	}
	for _, g := range seccompGroups(native) {
		for _, name := range g.Names {
			cases = append(cases, tc{name, seccompData(id, nr(name)), uint32(g.Action)})
		}
	}
	for _, c := range cases {
		got, err := vm.Run(c.data)
		if err != nil || uint32(got) != c.want {
			t.Errorf("%s: action %#x (%v), want %#x", c.what, uint32(got), err, c.want)
		}
	}
	t.Logf("%d cases", len(cases))
}

// testBwrapArgs is the sandbox the tests run commands in: the host's root read-only.
var testBwrapArgs = []string{"--unshare-user", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"}

// bwrapOrSkip skips the test unless bubblewrap can make a user namespace here.
func bwrapOrSkip(t *testing.T) {
	t.Helper()
	path, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("bubblewrap (bwrap) is not installed")
	}
	if out, err := exec.Command(path, append(testBwrapArgs, "--", "true")...).CombinedOutput(); err != nil {
		t.Skipf("bubblewrap cannot create a user namespace here: %v: %s", err, bytes.TrimSpace(out))
	}
}

// underBwrap runs argv in a bubblewrap sandbox, with the seccomp filter when filtered, and
// returns its standard output, standard error and exit code.
func underBwrap(t *testing.T, filtered bool, env []string, argv ...string) (stdout, stderr string, code int) {
	t.Helper()
	args := slices.Clone(testBwrapArgs)
	cmd := exec.Command("bwrap")
	if filtered {
		f, err := seccompFilter()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
		args = append(args, "--seccomp", "3")
	}
	cmd.Args = append(append(append(cmd.Args, args...), "--"), argv...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("bwrap: %v", err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

var pythonOnce = sync.OnceValues(func() (string, error) {
	// Resolve version-manager shims to the interpreter itself: faster, and nothing else to run.
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	return strings.TrimSpace(string(out)), err
})

func python(t *testing.T) string {
	t.Helper()
	p, err := pythonOnce()
	if err != nil || p == "" {
		t.Skipf("python3: %v", err)
	}
	return p
}

// probeProgram makes each system call of argv[1] with ctypes and prints, as JSON, each
// label's [return value, errno].
const probeProgram = `
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(p):
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(p["nr"]), *[ctypes.c_long(a) for a in p["args"]])
    return [ret, ctypes.get_errno() if ret == -1 else 0]

out = {}
for p in json.loads(sys.argv[1]):
    if not p["fork"]:
        out[p["label"]] = call(p)
        continue
    # Calls that change the caller (tracing, namespaces, persona) run in a child.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, json.dumps(call(p)).encode())
        os._exit(0)
    os.close(w)
    out[p["label"]] = json.loads(os.read(r, 200))
    os.waitpid(pid, 0)
print(json.dumps(out))
`

type sysProbe struct {
	Label string  `json:"label"`
	Nr    int     `json:"nr"`
	Args  []int64 `json:"args"`
	Fork  bool    `json:"fork"`
	want  syscall.Errno
}

func sysProbes(t *testing.T) []sysProbe {
	native, err := arch.GetInfo("")
	if err != nil {
		t.Skip(err)
	}
	nr := func(name string) int {
		n, ok := native.SyscallNames[name]
		if !ok {
			t.Fatalf("%s: no %s", native.Name, name)
		}
		return n
	}
	ps := []sysProbe{
		{Label: "getpid", Nr: nr("getpid")},
		{Label: "ptrace(TRACEME)", Nr: nr("ptrace"), Args: []int64{0, 0, 0, 0}, Fork: true, want: unix.EPERM},
		{Label: "keyctl(GET_KEYRING_ID)", Nr: nr("keyctl"), Args: []int64{unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0}, want: unix.EPERM},
		{Label: "bpf(MAP_CREATE)", Nr: nr("bpf"), Args: []int64{unix.BPF_MAP_CREATE, 0, 0}, want: unix.EPERM},
		{Label: "perf_event_open", Nr: nr("perf_event_open"), Args: []int64{0, 0, -1, -1, 0}, want: unix.EPERM},
		{Label: "userfaultfd", Nr: nr("userfaultfd"), Args: []int64{unix.O_CLOEXEC}, want: unix.EPERM},
		{Label: "mount", Nr: nr("mount"), Args: []int64{0, 0, 0, 0, 0}, want: unix.EPERM},
		{Label: "unshare(NEWNET)", Nr: nr("unshare"), Args: []int64{unix.CLONE_NEWNET}, Fork: true, want: unix.EPERM},
		{Label: "setns", Nr: nr("setns"), Args: []int64{-1, 0}, want: unix.EPERM},
		{Label: "process_vm_readv", Nr: nr("process_vm_readv"), Args: []int64{1, 0, 0, 0, 0, 0}, want: unix.EPERM},
		{Label: "io_uring_setup", Nr: nr("io_uring_setup"), Args: []int64{1, 0}, want: unix.ENOSYS},
		{Label: "personality(ADDR_NO_RANDOMIZE)", Nr: nr("personality"), Args: []int64{0x0040000 /* ADDR_NO_RANDOMIZE */}, Fork: true, want: unix.EPERM},
		{Label: "personality(query)", Nr: nr("personality"), Args: []int64{0xffffffff}},
		{Label: "personality(PER_LINUX)", Nr: nr("personality"), Args: []int64{0}, Fork: true},
	}
	if native == arch.X86_64 {
		ps = append(ps, sysProbe{Label: "x32 getpid", Nr: 0x40000000 | nr("getpid"), want: unix.ENOSYS})
	}
	for i := range ps {
		if ps[i].Args == nil {
			ps[i].Args = []int64{}
		}
	}
	return ps
}

func runProbes(t *testing.T, py string, filtered bool, ps []sysProbe) map[string][2]int64 {
	t.Helper()
	js, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := underBwrap(t, filtered, nil, py, "-c", probeProgram, string(js))
	if code != 0 {
		t.Fatalf("probe (filtered %v) exited %d: %s", filtered, code, stderr)
	}
	var res map[string][2]int64
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("probe output %q: %v (stderr %s)", stdout, err, stderr)
	}
	for _, p := range ps {
		r, ok := res[p.Label]
		if !ok {
			t.Fatalf("probe (filtered %v) did not report %s", filtered, p.Label)
		}
		t.Logf("filtered=%-5v %-32s ret %d errno %d (%v)", filtered, p.Label, r[0], r[1], errnoName(r[1]))
	}
	return res
}

func errnoName(e int64) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(syscall.Errno(e))
}

// The filter refuses what the policy says with the errno it says, and it is the filter that
// does: without it the same calls succeed or fail otherwise.
func TestSeccompRefuses(t *testing.T) {
	bwrapOrSkip(t)
	py := python(t)
	ps := sysProbes(t)

	with := runProbes(t, py, true, ps)
	for _, p := range ps {
		r := with[p.Label]
		switch {
		case p.want == 0 && r[0] < 0:
			t.Errorf("filtered: %s failed with %s, want success", p.Label, errnoName(r[1]))
		case p.want != 0 && (r[0] != -1 || syscall.Errno(r[1]) != p.want):
			t.Errorf("filtered: %s returned %d errno %s, want -1 %s", p.Label, r[0], errnoName(r[1]), unix.ErrnoName(p.want))
		}
	}

	without := runProbes(t, py, false, ps)
	for _, label := range []string{"ptrace(TRACEME)", "keyctl(GET_KEYRING_ID)", "personality(ADDR_NO_RANDOMIZE)", "setns", "perf_event_open"} {
		if r := without[label]; r[0] == -1 && syscall.Errno(r[1]) == unix.EPERM {
			t.Errorf("unfiltered: %s also fails with EPERM; the test cannot tell the filter did it", label)
		}
	}
	if r := without["ptrace(TRACEME)"]; r[0] != 0 {
		t.Errorf("unfiltered: ptrace(TRACEME) returned %d errno %s, want success", r[0], errnoName(r[1]))
	}
}

// A system call through another ABI (int 0x80 on x86_64) kills the process instead of
// bypassing the names.
func TestSeccompForeignArchKilled(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("int 0x80 check is for x86_64")
	}
	bwrapOrSkip(t)
	py := python(t)
	// mov eax, 20 (i386 getpid); int 0x80; ret
	const prog = `
import ctypes, mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
print(f(), flush=True)
`
	out, stderr, code := underBwrap(t, false, nil, py, "-c", prog)
	if code != 0 || strings.TrimSpace(out) == "" || strings.HasPrefix(out, "-") {
		t.Skipf("no i386 system calls on this kernel (exit %d, %q %s)", code, out, stderr)
	}
	t.Logf("unfiltered: i386 getpid returned %s", strings.TrimSpace(out))
	out, _, code = underBwrap(t, true, nil, py, "-c", prog)
	if code != 128+int(unix.SIGSYS) {
		t.Fatalf("filtered: exit %d, output %q; want killed by SIGSYS (%d)", code, out, 128+int(unix.SIGSYS))
	}
}

// Ordinary runtime work is untouched by the filter.
func TestSeccompRuntimesWork(t *testing.T) {
	bwrapOrSkip(t)
	cases := []struct {
		name string
		bin  string
		args []string
		env  []string
		want string
	}{
		{name: "python", args: []string{"-c", `
import json, os, socket, subprocess, sys, tempfile, threading
res = []
ts = [threading.Thread(target=lambda i=i: res.append(sum(range(i * 1000)))) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
assert len(res) == 8
out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True).stdout
assert out.strip() == "42", out
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.create_connection(srv.getsockname()); s, _ = srv.accept(); c.sendall(b"hi")
assert s.recv(2) == b"hi"
with tempfile.NamedTemporaryFile("w+") as f:
    json.dump({"ok": True}, f); f.flush(); f.seek(0); assert json.load(f)["ok"]
print("python ok")
`}, want: "python ok"},
		// UV_USE_IO_URING=1 makes libuv try io_uring (off by default in recent releases); it must
		// fall back on ENOSYS.
		{name: "node", bin: "node", env: []string{"UV_USE_IO_URING=1"}, args: []string{"-e", `
const fs = require("fs"), cp = require("child_process"), assert = require("assert");
fs.writeFileSync("/tmp/a.txt", "x".repeat(100000));
fs.readFile("/tmp/a.txt", "utf8", async (err, d) => {
  assert.ifError(err); assert.strictEqual(d.length, 100000);
  const p = await fs.promises.readFile("/tmp/a.txt"); assert.strictEqual(p.length, 100000);
  await fs.promises.writeFile("/tmp/b.txt", "y");
  assert.strictEqual(cp.execFileSync(process.execPath, ["-e", "console.log(6*7)"]).toString().trim(), "42");
  cp.exec("echo hi", (e, out) => { assert.ifError(e); assert.strictEqual(out.trim(), "hi"); console.log("node ok"); });
});
`}, want: "node ok"},
		{name: "java", bin: "java", args: []string{"-version"}},
		{name: "mono", bin: "mono", args: []string{"--version"}},
		{name: "php", bin: "php", args: []string{"-r", `echo "php ok\n";`}, want: "php ok"},
		{name: "go", bin: "go", args: []string{"version"}, want: "go version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := c.bin
			if c.name == "python" {
				bin = python(t)
			} else if p, err := exec.LookPath(bin); err != nil {
				t.Skipf("%s is not installed", bin)
			} else {
				bin = p
			}
			out, stderr, code := underBwrap(t, true, c.env, append([]string{bin}, c.args...)...)
			if code != 0 || !strings.Contains(out+stderr, c.want) {
				t.Fatalf("exit %d, want 0 and %q\nstdout: %s\nstderr: %s", code, c.want, out, stderr)
			}
		})
	}
}
