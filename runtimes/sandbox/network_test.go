package sandbox

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// hostListeners counts the TCP sockets listening on the host's IPv4 loopback.
func hostListeners(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[3] == "0A" && strings.HasSuffix(strings.Split(fields[1], ":")[0], "7F") {
			n++
		}
	}
	return n
}

// TestRuntimeAPIIsPrivate: an instance's Runtime API is served inside its own network
// namespace only. No listener appears on the host's loopback, and a function scanning its
// loopback for other Runtime APIs finds only its own, so it cannot take another function's
// events or answer for it.
func TestRuntimeAPIIsPrivate(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	before := hostListeners(t)
	for _, fx := range append(fixtures, custom) {
		t.Run(fx.runtime, func(t *testing.T) {
			victim := start(t, cat, config(n, fixtures[0], "echo", sb))
			var echoed map[string]string
			call(t, victim, map[string]string{"card": "4111"}, &echoed)
			attacker := start(t, cat, config(n, fx, "steal", sb))
			if got := hostListeners(t); got != before {
				t.Errorf("the host's loopback has %d listeners with two instances running, %d before", got, before)
			}
			var got struct {
				Own       int
				Listening []int
				Stolen    map[string]string
			}
			call(t, attacker, map[string]any{}, &got)
			if got.Own != 9001 || len(got.Listening) != 1 || got.Listening[0] != 9001 || len(got.Stolen) != 0 {
				t.Errorf("the attacker sees Runtime API %d, listeners %v and took %v; want only its own at 9001", got.Own, got.Listening, got.Stolen)
			}
			call(t, victim, map[string]string{"card": "5500"}, &echoed)
			if echoed["card"] != "5500" {
				t.Errorf("the victim answered %v", echoed)
			}
		})
	}
}

// TestSandboxToolEnvironment: bubblewrap itself, outside every namespace, starts with an
// empty environment and a command line holding none of the function's settings; they are
// set inside only, where the function sees them.
func TestSandboxToolEnvironment(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	const secret = "function-secret-7d1f"
	for _, fx := range fixtures {
		t.Run(fx.runtime, func(t *testing.T) {
			cfg := config(n, fx, "read", sb)
			cfg.Env = map[string]string{"API_KEY": secret, "NODE_PATH": "/var/task/evil"}
			i := start(t, cat, cfg)
			bwrapPid := sb.last().pids[0]
			for _, f := range []string{"environ", "cmdline"} {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", bwrapPid, f))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) || strings.Contains(string(b), "NODE_PATH") {
					t.Errorf("bubblewrap's %s on the host holds the function's variables: %q", f, b)
				}
				if f == "environ" && len(b) != 0 {
					t.Errorf("bubblewrap starts with an environment: %q", b)
				}
			}
			var o outcome
			call(t, i, map[string]string{"path": "/proc/self/environ"}, &o)
			if !o.OK || !strings.Contains(string(o.Value), "API_KEY="+secret) {
				t.Errorf("the function does not see its own variable: %+v", o)
			}
		})
	}
}

// TestInstancesHaveTheirOwnUID: instances alive at once run as different host uids, and the
// staged code of one cannot be reached by the uid of another.
func TestInstancesHaveTheirOwnUID(t *testing.T) {
	needRoot(t)
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	start(t, cat, config(n, fixtures[0], "echo", sb))
	a := sb.last()
	start(t, cat, config(n, fixtures[0], "echo", sb))
	b := sb.last()
	if a.uid.uid == b.uid.uid || !sandboxUID(a.uid.uid) || !sandboxUID(b.uid.uid) {
		t.Fatalf("uids %d and %d: want two different uids of the sandbox's range", a.uid.uid, b.uid.uid)
	}
	for _, p := range b.pids {
		if u := uidOf(t, p); u != b.uid.uid {
			t.Errorf("process %d runs as %d, want %d", p, u, b.uid.uid)
		}
	}
	code := b.stageD + "/task/main.py"
	if _, err := os.Stat(code); err != nil {
		t.Fatalf("staged code: %v", err)
	}
	// As an escaped process of a would be: a's uid, outside every namespace.
	cmd := exec.Command("/bin/cat", code)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid.uid), Gid: uint32(a.uid.uid)}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("uid %d read another instance's code: %v %s", a.uid.uid, err, out)
	}
}

// sandboxUID reports whether u is one of the default range of instance uids.
func sandboxUID(u int) bool { return u >= DefaultFirstUID && u < DefaultFirstUID+DefaultUIDCount }

// TestSeccompRefusesKernelInterfaces: a function's calls to ptrace, keyrings, bpf, perf events
// and new namespaces fail with EPERM.
func TestSeccompRefusesKernelInterfaces(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	i := start(t, cat, config(n, fixtures[0], "syscalls", sb))
	var got map[string]string
	call(t, i, map[string]any{}, &got)
	for _, name := range []string{"ptrace", "keyctl", "bpf", "unshare", "perf_event_open", "userfaultfd"} {
		if got[name] != "EPERM" {
			t.Errorf("%s: %s, want EPERM", name, got[name])
		}
	}
	control(t, cat, n, sb)
}

// outsideHost is a test host beyond the machine: a network namespace joined to it by a veth
// pair, with a TCP listener at addr.
type outsideHost struct {
	addr string
}

func newOutsideHost(t *testing.T) outsideHost {
	t.Helper()
	needRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to make a test host")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	ns, host, peer := "sluice-out-"+id, "slh"+id, "slo"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	run("link", "set", peer, "netns", ns)
	run("addr", "add", "10.213.0.1/30", "dev", host)
	run("link", "set", host, "up")
	run("-n", ns, "addr", "add", "10.213.0.2/30", "dev", peer)
	run("-n", ns, "link", "set", peer, "up")
	run("-n", ns, "link", "set", "lo", "up")
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ln net.Listener
	err = onThread(func() error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }, func() (err error) {
		ln, err = net.Listen("tcp", "10.213.0.2:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return outsideHost{addr: ln.Addr().String()}
}

// TestNetwork: by default a function reaches the outside network, and none of the host: not
// its loopback (where the bus, the API and the Runtime APIs of old listened), not its own
// addresses, not the link-local range of cloud metadata services. The operator's allowed
// host addresses are reachable; network none reaches nothing.
func TestNetwork(t *testing.T) {
	outside := newOutsideHost(t) // before the sandbox, so its host side counts as the host's
	hostPort, err := listenLoopback(t)
	if err != nil {
		t.Fatal(err)
	}
	allowedPort, err := listenLoopback(t)
	if err != nil {
		t.Fatal(err)
	}
	// A service on every host address, as one bound to 0.0.0.0 would be.
	wild, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wild.Close() })
	anyPort := wild.Addr().(*net.TCPAddr).Port
	egress := isolated(t, Options{Allow: []string{fmt.Sprintf("127.0.0.1:%d", allowedPort)}})
	none := isolated(t, Options{Network: NetworkNone})
	cat := newCatalog(t)
	n := newNode(t)
	outHost, outPort, _ := net.SplitHostPort(outside.addr)
	op, _ := strconv.Atoi(outPort)
	type probe struct {
		host  string
		port  int
		errno []string // "" for connected
	}
	for _, fx := range append(fixtures, custom) {
		t.Run(fx.runtime, func(t *testing.T) {
			check := func(t *testing.T, sb *recorder, probes []probe) {
				i := start(t, cat, config(n, fx, "connect", sb))
				for _, p := range probes {
					var o outcome
					call(t, i, map[string]any{"host": p.host, "port": p.port}, &o)
					got := o.Errno
					if o.OK {
						got = ""
					}
					if !contains(p.errno, got) {
						t.Errorf("connect %s:%d: %+v, want %q", p.host, p.port, o, p.errno)
					}
				}
			}
			t.Run("egress", func(t *testing.T) {
				check(t, egress, []probe{
					{outHost, op, []string{""}},
					{"127.0.0.1", hostPort, []string{"ECONNREFUSED"}},
					{"127.0.0.1", allowedPort, []string{""}},
					{"10.213.0.1", anyPort, []string{"EACCES"}},
					{"169.254.169.254", 80, []string{"EACCES"}},
				})
			})
			t.Run("none", func(t *testing.T) {
				check(t, none, []probe{
					{outHost, op, []string{"ENETUNREACH", "EHOSTUNREACH"}},
					{"127.0.0.1", hostPort, []string{"ECONNREFUSED"}},
					{"169.254.169.254", 80, []string{"EACCES", "ENETUNREACH"}},
				})
			})
		})
	}
	control(t, cat, n, egress)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
