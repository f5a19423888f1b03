//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// pair is a loopback TCP connection: the client side through Conn, the server side plain.
func pair(t *testing.T) (raw, plain net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	raw, err = Dialer{Timeout: 5 * time.Second}.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	plain = <-accepted
	if plain == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = raw.Close(); _ = plain.Close() })
	if _, ok := raw.(conn); !ok {
		t.Fatalf("Dial gave a %T, not a raw connection", raw)
	}
	return raw, plain
}

func TestConnCarriesBytesBothWaysAndEnds(t *testing.T) {
	raw, plain := pair(t)
	// More than the socket buffers hold: the write must wait on the netpoller, not fail.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(plain, int64(len(big))))
		got <- b
	}()
	if n, err := raw.Write(big); err != nil || n != len(big) {
		t.Fatalf("write: %d bytes, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the other side read %d bytes, not the %d written", len(b), len(big))
	}

	if _, err := plain.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := io.ReadAtLeast(raw, buf, 4)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	_ = plain.Close()
	if n, err := raw.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: %d bytes, %v; want io.EOF", n, err)
	}
}

func TestConnHoldsDeadlines(t *testing.T) {
	raw, _ := pair(t)
	// The peer never writes: only the deadline, and then Close, can end these reads.
	if err := raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := readEnds(t, raw); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline: %v", err)
	}
	if err := raw.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Most likely after the read below waits on the netpoller; a Close before it gives
		// the same error, so the order does not decide the outcome.
		time.Sleep(10 * time.Millisecond)
		_ = raw.Close()
	}()
	if err := readEnds(t, raw); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a read ended by Close: %v", err)
	}
}

// readEnds reads c and returns the read's error, failing the test if the read never ends.
func readEnds(t *testing.T, c net.Conn) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end")
		return nil
	}
}

func TestConnLeavesConnectionsWithoutASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := Conn(a); c != a {
		t.Fatalf("Conn of a net.Pipe: %T, want it unchanged", c)
	}
}

func TestReadOfAnEmptyPipe(t *testing.T) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	buf := make([]byte, 8)
	if n, err := Read(uintptr(fds[0]), buf); n != 0 || err != syscall.EAGAIN {
		t.Fatalf("empty pipe: %d bytes, %v; want EAGAIN", n, err)
	}
	if _, err := syscall.Write(fds[1], []byte("line\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := Read(uintptr(fds[0]), buf); err != nil || string(buf[:n]) != "line\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	syscall.Close(fds[1])
	if n, err := Read(uintptr(fds[0]), buf); n != 0 || err != nil {
		t.Fatalf("closed pipe: %d bytes, %v; want 0 and no error", n, err)
	}
	if _, err := Read(^uintptr(0), buf); err != syscall.EBADF {
		t.Fatalf("a bad descriptor: %v, want EBADF", err)
	}
}

func TestAtStart(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("0123456789"); err != nil {
		t.Fatal(err)
	}
	if n, err := WriteAtStart(f.Fd(), []byte("ab")); n != 2 || err != nil {
		t.Fatalf("write at start: %d, %v", n, err)
	}
	buf := make([]byte, 32)
	n, err := ReadAtStart(f.Fd(), buf)
	if err != nil || string(buf[:n]) != "ab23456789" {
		t.Fatalf("read at start: %q, %v", buf[:n], err)
	}
}

func TestConnOfAUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	raw := Conn(c)
	defer raw.Close()
	if _, ok := raw.(conn); !ok {
		t.Fatalf("Conn of a Unix socket: %T", raw)
	}
	if _, err := raw.Write([]byte("echo")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadAtLeast(raw, buf, 4); err != nil || string(buf[:n]) != "echo" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
