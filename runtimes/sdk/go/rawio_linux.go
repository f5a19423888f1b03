package sluice

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes the Runtime API's connection with system calls the Go scheduler does
// not see: RawSyscall on the non-blocking socket, waiting on the netpoller only when it would
// block. Through net.Conn each read and write enters the scheduler's syscall state, which wakes
// the runtime's sysmon thread out of its idle sleep on every invocation, and sysmon hands the P
// to another thread when a loopback write takes more than its 20 µs tick: at GOMAXPROCS=1 a
// no-op invocation cost about six context switches and 180 µs of CPU, against about two and
// 105 µs this way. Deadlines (SetDeadline) hold as they do for net.Conn.
type rawIO struct{ rc syscall.RawConn }

// newRawIO returns c's raw reader and writer, or false when c has no file descriptor.
func newRawIO(c net.Conn) (io.ReadWriter, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return rawIO{rc}, true
}

func (r rawIO) Read(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			r1, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(pointer(p)), uintptr(len(p)))
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				return false
			}
			n, errno = int(r1), e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r rawIO) Write(p []byte) (int, error) {
	written := 0
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		for written < len(p) {
			r1, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(pointer(p[written:])), uintptr(len(p)-written))
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				return false
			}
			if e != 0 {
				errno = e
				return true
			}
			written += int(r1)
		}
		return true
	})
	if err != nil {
		return written, err
	}
	if errno != 0 {
		return written, errno
	}
	return written, nil
}

// pointer is the address of p's first byte, nil for an empty p.
func pointer(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
