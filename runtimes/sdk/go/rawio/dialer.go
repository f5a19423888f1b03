package rawio

import (
	"net"
	"time"
)

// Dialer dials TCP connections whose reads and writes are raw (Conn), within Timeout (none
// when 0). It satisfies the NATS client's custom dialer.
type Dialer struct {
	Timeout time.Duration
}

// Dial connects to address on network.
func (d Dialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: d.Timeout}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	return Conn(c), nil
}
