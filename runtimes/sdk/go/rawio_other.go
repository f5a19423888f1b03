//go:build !linux

package sluice

import (
	"io"
	"net"
)

// newRawIO is Linux's alone; elsewhere the client reads and writes through net.Conn.
func newRawIO(net.Conn) (io.ReadWriter, bool) { return nil, false }
