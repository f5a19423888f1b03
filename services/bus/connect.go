package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Conn is a role's connection to the bus.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials the bus at url (credentials in the URL), reconnecting forever on loss, and makes
// sure the whole bus exists. extra options may, for example, connect in-process (Embedded.InProcess).
func Connect(ctx context.Context, url, name string, o events.BusOptions, logger *slog.Logger, extra ...nats.Option) (*Conn, error) {
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("bus reconnected", "url", c.ConnectedUrlRedacted()) }),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to bus: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := events.Ensure(ctx, js, o); err != nil {
		nc.Close()
		return nil, err
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains the connection: pending publishes are flushed before it closes.
func (c *Conn) Close() {
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
	}
}
