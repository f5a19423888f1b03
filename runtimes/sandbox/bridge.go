package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// bridge carries the Runtime API into an instance's empty network namespace: a listener opened
// inside that namespace (on the same address as the host's server, so the instance's
// environment needs no change) whose connections are forwarded to the host's server.
type bridge struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// openBridge listens on addr inside the network namespace of pid and forwards to addr on the
// host.
func openBridge(pid int, addr string, log *slog.Logger) (*bridge, error) {
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Enter the sandbox's namespace on this thread only, open the socket there (it keeps
		// that namespace whatever thread uses it later), and come back. The thread must not
		// end instead: it may be the one that started the sandbox, whose end would send
		// bubblewrap its parent-death signal. Only if coming back fails is it left to end,
		// locked, so that no other goroutine runs in the wrong namespace.
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer own.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace: %w", err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			log.Error("runtime api bridge: cannot return to the worker's network namespace; retiring the thread", "err", err)
		} else {
			runtime.UnlockOSThread()
		}
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("listen inside the sandbox: %w", r.err)
	}
	b := &bridge{ln: r.ln, target: addr, log: log, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

func (b *bridge) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Warn("runtime api bridge: accept", "err", err)
			}
			return
		}
		if !b.track(c) {
			_ = c.Close()
			return
		}
		b.wg.Add(1)
		go b.forward(c)
	}
}

func (b *bridge) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *bridge) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	_ = c.Close()
}

// forward copies both ways between an inside connection and a new one to the host's server.
func (b *bridge) forward(in net.Conn) {
	defer b.wg.Done()
	defer b.untrack(in)
	out, err := net.DialTimeout("tcp", b.target, 5*time.Second)
	if err != nil {
		b.log.Debug("runtime api bridge: dial", "err", err) // the server closes before its instance ends
		return
	}
	if !b.track(out) {
		_ = out.Close()
		return
	}
	defer b.untrack(out)
	if tc, ok := out.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	// Either side ending ends both: the Runtime API has no use for half-closed connections.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		_ = out.Close()
		close(done)
	}()
	_, _ = io.Copy(in, out)
	_ = in.Close()
	<-done
}

// close stops accepting, closes every connection and waits for the goroutines.
func (b *bridge) close() {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	_ = b.ln.Close()
	b.wg.Wait()
}
