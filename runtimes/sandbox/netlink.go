package sandbox

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// The few rtnetlink requests a new network namespace needs, made on the calling thread (which
// must be inside that namespace): the loopback up, an address on it, a route that refuses.

// linkUp sets the interface name up.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// loopbackIndex is the loopback's interface index in every new network namespace.
const loopbackIndex = 1

// addRoute adds an IPv4 route of kind typ (unix.RTN_PROHIBIT: connections fail at once with
// EACCES) to dst in the main table.
func addRoute(dst *net.IPNet, typ uint8) error {
	ip := dst.IP.To4()
	if ip == nil {
		return fmt.Errorf("route %s: not IPv4", dst)
	}
	ones, _ := dst.Mask.Size()
	body := []byte{
		unix.AF_INET, byte(ones), 0, 0, // family, dst_len, src_len, tos
		unix.RT_TABLE_MAIN, unix.RTPROT_STATIC, unix.RT_SCOPE_UNIVERSE, typ,
		0, 0, 0, 0, // flags
	}
	body = appendAttr(body, unix.RTA_DST, ip)
	if err := rtnetlink(unix.RTM_NEWROUTE, body); err != nil {
		return fmt.Errorf("route %s: %w", dst, err)
	}
	return nil
}

// addAddress puts ip/32 on the loopback, so connections to it stay in the namespace.
func addAddress(ip net.IP) error {
	v4 := ip.To4()
	if v4 == nil {
		return fmt.Errorf("address %s: not IPv4", ip)
	}
	body := []byte{unix.AF_INET, 32, 0, unix.RT_SCOPE_HOST, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(body[4:], loopbackIndex)
	body = appendAttr(body, unix.IFA_LOCAL, v4)
	body = appendAttr(body, unix.IFA_ADDRESS, v4)
	if err := rtnetlink(unix.RTM_NEWADDR, body); err != nil {
		return fmt.Errorf("address %s: %w", ip, err)
	}
	return nil
}

// appendAttr appends one rtattr, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	n := unix.SizeofRtAttr + len(data)
	hdr := make([]byte, unix.SizeofRtAttr)
	binary.NativeEndian.PutUint16(hdr[0:], uint16(n))
	binary.NativeEndian.PutUint16(hdr[2:], typ)
	b = append(append(b, hdr...), data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// rtnetlink sends one create request and waits for its acknowledgement.
func rtnetlink(typ uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return fmt.Errorf("netlink answer: short error message")
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return syscall.Errno(-errno)
			}
			return nil
		}
	}
}
