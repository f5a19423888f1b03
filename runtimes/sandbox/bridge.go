package sandbox

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// bridge forwards the connections of a listener opened inside an instance's network
// namespace to a host address the operator allowed functions to reach (Options.Allow).
type bridge struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newBridge forwards the connections of ln to target on the host.
func newBridge(ln net.Listener, target string, log *slog.Logger) *bridge {
	b := &bridge{ln: ln, target: target, log: log, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	return b
}

func (b *bridge) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Warn("sandbox forward: accept", "target", b.target, "err", err)
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
		b.log.Debug("sandbox forward: dial", "target", b.target, "err", err)
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
	// Either side ending ends both.
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
