package sandbox

import (
	"bytes"
	"errors"
	"fmt"

	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RuntimeAPIAddr is where a process with a network of its own reaches its Runtime API, as a
// Lambda function does: on the loopback of its own namespace, where no other instance and no
// host process can connect.
const RuntimeAPIAddr = "127.0.0.1:9001"

// slirpReadyTimeout bounds how long Started waits for slirp4netns to configure a namespace.
const slirpReadyTimeout = 5 * time.Second

// netPlan is what every instance's namespace gets, worked out once by New.
type netPlan struct {
	egress   bool             // slirp4netns gives the outside network
	slirp    string           // its binary
	prohibit []*net.IPNet     // refused at once (EACCES): link-local, the host's own addresses
	allow    []netip.AddrPort // host addresses forwarded from inside, the operator's choice
}

// newNetPlan lists the host's own IPv4 addresses, which must not be reached through the
// outside network (slirp4netns connects from the host, where they are local), besides the
// link-local range (cloud metadata services).
func newNetPlan(opts Options, slirp string) (netPlan, error) {
	p := netPlan{egress: opts.Network == NetworkEgress, slirp: slirp}
	_, linkLocal, _ := net.ParseCIDR("169.254.0.0/16")
	p.prohibit = append(p.prohibit, linkLocal)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return p, fmt.Errorf("host addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() || linkLocal.Contains(ipn.IP) {
			continue
		}
		p.prohibit = append(p.prohibit, &net.IPNet{IP: ipn.IP.To4(), Mask: net.CIDRMask(32, 32)})
	}
	for _, s := range opts.Allow {
		if !p.egress {
			break // network none: nothing of the host, allowed or not
		}
		ap, err := ParseAllow(s)
		if err != nil {
			return p, err
		}
		p.allow = append(p.allow, ap)
	}
	return p, nil
}

// ParseAllow reads one host address a function may reach, "IPv4:port"; "localhost:port" is
// 127.0.0.1. The Runtime API's own address is refused.
func ParseAllow(s string) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "localhost:"); ok {
		s = "127.0.0.1:" + rest
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
		return ap, fmt.Errorf("%w: allowed host address %q: use IPv4:port, e.g. 127.0.0.1:8080", ErrOptions, s)
	}
	if ap.String() == RuntimeAPIAddr {
		return ap, fmt.Errorf("%w: allowed host address %s is the Runtime API's own address inside every instance", ErrOptions, s)
	}
	return ap, nil
}

// network is one instance's network namespace, made by the worker (so the worker, not the
// function, owns it): a loopback holding the Runtime API's listener, the plan's refusing
// routes, a forwarding listener per allowed host address, and with egress a slirp4netns
// process that connects it to the outside through the host's sockets.
type network struct {
	ns    *os.File     // the namespace
	api   net.Listener // the Runtime API's listener inside
	fwd   []*bridge    // allowed host addresses
	log   *slog.Logger
	slirp *exec.Cmd
	exit  *os.File   // write end of slirp4netns's --exit-fd: closing it ends slirp4netns
	ready chan error // slirp4netns configured the namespace, or failed; nil without egress
	done  chan struct{}
	once  sync.Once
}

// newNetwork makes an instance's namespace after p.
func newNetwork(p netPlan, log *slog.Logger) (_ *network, err error) {
	n := &network{log: log}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	err = onThread(func() error { return unix.Unshare(unix.CLONE_NEWNET) }, func() error {
		ns, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		n.ns = ns
		if err := linkUp("lo"); err != nil {
			return err
		}
		for _, r := range p.prohibit {
			if err := addRoute(r, unix.RTN_PROHIBIT); err != nil {
				return err
			}
		}
		for _, a := range p.allow {
			if !a.Addr().IsLoopback() {
				if err := addAddress(a.Addr().AsSlice()); err != nil && !errors.Is(err, syscall.EEXIST) {
					return err
				}
			}
			ln, err := net.Listen("tcp", a.String())
			if err != nil {
				return fmt.Errorf("allowed host address %s: %w", a, err)
			}
			n.fwd = append(n.fwd, newBridge(ln, a.String(), log))
		}
		if n.api, err = net.Listen("tcp", RuntimeAPIAddr); err != nil {
			return fmt.Errorf("runtime api: %w", err)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("network namespace: %w", err)
	}
	if p.egress {
		if err := n.startSlirp(p.slirp); err != nil {
			return n, err
		}
	}
	return n, nil
}

// startSlirp starts slirp4netns on the namespace: it ends when the worker closes n.exit (or
// dies), runs without capabilities in a mount namespace of its own under its own seccomp
// filter, and never lets the namespace reach the host's loopback.
func (n *network) startSlirp(slirp string) error {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("slirp4netns: %w", err)
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		_ = readyR.Close()
		_ = readyW.Close()
		return fmt.Errorf("slirp4netns: %w", err)
	}
	var stderr bytes.Buffer
	cmd := &exec.Cmd{
		Path: slirp,
		Args: []string{slirp, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
			"--enable-seccomp", "--ready-fd=3", "--exit-fd=4", "--netns-type=path", "/proc/self/fd/5", "tap0"},
		Env:         []string{},
		Dir:         "/",
		ExtraFiles:  []*os.File{readyW, exitR, n.ns},
		Stderr:      &limitedBuffer{buf: &stderr, max: 4096},
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	err = cmd.Start()
	_ = readyW.Close()
	_ = exitR.Close()
	if err != nil {
		_ = readyR.Close()
		_ = exitW.Close()
		return fmt.Errorf("start slirp4netns: %w", err)
	}
	n.slirp, n.exit = cmd, exitW
	n.ready, n.done = make(chan error, 1), make(chan struct{})
	go func() {
		defer readyR.Close()
		b := make([]byte, 1)
		if _, err := readyR.Read(b); err != nil {
			<-n.done
			n.ready <- fmt.Errorf("slirp4netns ended before the network was ready: %s", strings.TrimSpace(stderr.String()))
			return
		}
		n.ready <- nil
	}()
	go func() {
		_ = cmd.Wait()
		close(n.done)
	}()
	return nil
}

// waitReady waits until the outside network is configured (at once without egress).
func (n *network) waitReady() error {
	if n.ready == nil {
		return nil
	}
	select {
	case err := <-n.ready:
		n.ready <- err // keep the answer for a later call
		return err
	case <-time.After(slirpReadyTimeout):
		return fmt.Errorf("slirp4netns did not configure the network within %s", slirpReadyTimeout)
	}
}

// start starts cmd inside the namespace: it forks from a thread that has entered it.
func (n *network) start(cmd *exec.Cmd) error {
	return onThread(func() error { return unix.Setns(int(n.ns.Fd()), unix.CLONE_NEWNET) }, cmd.Start)
}

// close ends slirp4netns and the forwarders and lets the namespace go. Idempotent; it does
// not wait for slirp4netns to exit.
func (n *network) close() {
	n.once.Do(func() {
		if n.exit != nil {
			// slirp4netns takes tens of milliseconds to notice: it is reaped in the background,
			// killed if it has not ended within a second.
			_ = n.exit.Close()
			go func() {
				select {
				case <-n.done:
				case <-time.After(time.Second):
					_ = n.slirp.Process.Kill()
				}
			}()
		}
		for _, b := range n.fwd {
			b.close()
		}
		if n.api != nil {
			_ = n.api.Close()
		}
		if n.ns != nil {
			_ = n.ns.Close()
		}
	})
}

// onThread runs fn on a thread that enter moved into another network namespace, then brings
// the thread back. A child process fn starts inherits the namespace of that thread. The
// thread is only handed back to other goroutines once it is back in the worker's namespace;
// if it cannot come back, it ends with this goroutine.
func onThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("own network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := enter(); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter a network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the worker's network namespace: %w", err))
			return // the thread stays locked and ends with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// network is the Network the plan gives.
func (p netPlan) network() Network {
	if p.egress {
		return NetworkEgress
	}
	return NetworkNone
}
