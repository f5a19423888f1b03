//go:build !linux

package rawio

import "net"

// Conn is Linux's alone; elsewhere it returns c.
func Conn(c net.Conn) net.Conn { return c }
