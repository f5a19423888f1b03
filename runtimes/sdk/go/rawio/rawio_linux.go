package rawio

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Conn returns c with its Read and Write done as raw system calls on its non-blocking socket,
// waiting on the netpoller only when they would block; everything else is c's. It returns c
// itself when c has no descriptor (a net.Pipe, a TLS connection: wrap the socket under it).
func Conn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return conn{c, rc}
}

type conn struct {
	net.Conn
	rc syscall.RawConn
}

func (c conn) Read(p []byte) (int, error)  { return readConn(c.rc, p) }
func (c conn) Write(p []byte) (int, error) { return writeConn(c.rc, p) }

func readConn(rc syscall.RawConn, p []byte) (int, error) {
	var (
		n     int
		errno error
	)
	err := rc.Read(func(fd uintptr) bool {
		n, errno = Read(fd, p)
		return errno != syscall.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if errno != nil {
		return 0, errno
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func writeConn(rc syscall.RawConn, p []byte) (int, error) {
	written := 0
	var errno error
	err := rc.Write(func(fd uintptr) bool {
		for written < len(p) {
			n, e := write(fd, p[written:])
			if e == syscall.EAGAIN {
				return false
			}
			if e != nil {
				errno = e
				return true
			}
			written += n
		}
		return true
	})
	if err != nil {
		return written, err
	}
	return written, errno
}

// Read is one read(2) of fd into p, retried on EINTR. An empty non-blocking descriptor gives
// syscall.EAGAIN, the end of a file or stream 0 bytes and no error.
func Read(fd uintptr, p []byte) (int, error) {
	return retry(func() (uintptr, uintptr, syscall.Errno) {
		return syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(pointer(p)), uintptr(len(p)))
	})
}

// ReadAtStart is one pread(2) of fd into p from the start of the file, retried on EINTR: a
// cgroup file is rendered whole on that read.
func ReadAtStart(fd uintptr, p []byte) (int, error) {
	return retry(func() (uintptr, uintptr, syscall.Errno) {
		return syscall.RawSyscall6(syscall.SYS_PREAD64, fd, uintptr(pointer(p)), uintptr(len(p)), 0, 0, 0)
	})
}

// WriteAtStart is one pwrite(2) of p to fd at the start of the file, retried on EINTR.
func WriteAtStart(fd uintptr, p []byte) (int, error) {
	return retry(func() (uintptr, uintptr, syscall.Errno) {
		return syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(pointer(p)), uintptr(len(p)), 0, 0, 0)
	})
}

func write(fd uintptr, p []byte) (int, error) {
	return retry(func() (uintptr, uintptr, syscall.Errno) {
		return syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(pointer(p)), uintptr(len(p)))
	})
}

// retry runs a system call until it is not interrupted, and returns its count or its error.
func retry(call func() (uintptr, uintptr, syscall.Errno)) (int, error) {
	for {
		r1, _, e := call()
		switch e {
		case 0:
			return int(r1), nil
		case syscall.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// pointer is the address of p's first byte, nil for an empty p.
func pointer(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
