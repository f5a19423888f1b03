package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/sdk/rawio"
)

// ErrRejected is a bus that refused this role for good: wrong credentials, a certificate it does
// not trust, or a replica count it cannot give. Retrying would not help.
var ErrRejected = errors.New("bus rejected the connection")

// Backoff of connection attempts: the first retry after minBackoff, doubling to maxBackoff, each
// with up to a quarter more at random so that restarted roles do not knock in step.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Conn is a role's connection to the bus.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials the bus at url (one or more comma-separated server URLs, credentials in the URL
// allowed) and makes sure the whole bus exists, with o.Replicas replicas of every stream, bucket
// and object store (none: what they have, 1 for new ones). extra options may add credentials (Auth.Options) or connect in-process
// (Embedded.InProcess).
//
// Until ctx ends, Connect keeps trying while no server answers or the bus cannot yet create the
// streams (a cluster still electing its leader), logging each failure with the next delay; it
// fails at once, with an error wrapping ErrRejected, when the bus refuses the credentials or the
// TLS handshake, or cannot give the replicas asked for. Once connected, the connection
// reconnects forever with the same backoff, logging when it is lost, each failed attempt, and
// when it is back.
func Connect(ctx context.Context, url, name string, o events.BusOptions, logger *slog.Logger, extra ...nats.Option) (*Conn, error) {
	return ConnectReporting(ctx, url, name, o, logger, nil, extra...)
}

// ConnectReporting is Connect that also hands report every failure it will retry, for a role
// to show why it is not serving yet (its /healthz). report may be nil.
func ConnectReporting(ctx context.Context, url, name string, o events.BusOptions, logger *slog.Logger, report func(error), extra ...nats.Option) (*Conn, error) {
	if report == nil {
		report = func(error) {}
	}
	servers := redact(url)
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		// Reads and writes without the scheduler's system-call state: a worker idle between
		// events would wake the runtime's sysmon on each (package rawio).
		nats.SetCustomDialer(rawio.Dialer{Timeout: nats.DefaultTimeout}),
		nats.CustomReconnectDelay(backoff),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				logger.Warn("bus connection lost; reconnecting until it is back", "servers", servers, "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("bus reconnect attempt failed", "servers", servers, "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("bus reconnected", "server", c.ConnectedUrlRedacted()) }),
	}, extra...)

	var nc *nats.Conn
	for attempt := 0; ; attempt++ {
		var err error
		if nc, err = nats.Connect(url, opts...); err == nil {
			break
		}
		if rejected(err) {
			return nil, fmt.Errorf("connect to bus %s: %w: %w", servers, ErrRejected, err)
		}
		d := backoff(attempt + 1)
		logger.Warn("bus unreachable; retrying", "servers", servers, "err", err, "retry_in", d.Round(time.Millisecond))
		report(fmt.Errorf("bus %s unreachable: %w", servers, err))
		if err := pause(ctx, d); err != nil {
			return nil, fmt.Errorf("connect to bus %s: %w", servers, err)
		}
	}
	replicas := any(o.Replicas)
	if o.Replicas <= 0 {
		replicas = "as the bus has"
	}
	logger.Info("bus connected", "server", nc.ConnectedUrlRedacted(), "cluster", nc.ConnectedClusterName(), "replicas", replicas)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	for attempt := 0; ; attempt++ {
		err := events.Ensure(ctx, js, o)
		if err == nil {
			break
		}
		if replicasRefused(err) {
			nc.Close()
			return nil, fmt.Errorf("%w: %w (is --replicas larger than the cluster?)", ErrRejected, err)
		}
		if errors.Is(err, events.ErrStoreSize) {
			nc.Close()
			return nil, fmt.Errorf("%w: %w", ErrRejected, err)
		}
		d := backoff(attempt + 1)
		logger.Warn("bus not ready for sluice's streams; retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		if events.IsStoreFull(err) {
			err = fmt.Errorf("%w (the store has no room for the bus's streams: free space under --data, or give the node a larger --store-max)", err)
		}
		report(fmt.Errorf("bus not ready for sluice's streams: %w", err))
		if err := pause(ctx, d); err != nil {
			nc.Close()
			return nil, fmt.Errorf("ensure the bus: %w", err)
		}
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains the connection: pending publishes are flushed before it closes.
func (c *Conn) Close() {
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
	}
}

// backoff is the delay before attempt n (1 for the first retry).
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 16 {
		d = min(minBackoff<<max(n-1, 0), maxBackoff)
	}
	return d + rand.N(d/4+1)
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rejected tells a refusal that retrying cannot fix (credentials, TLS trust) from a server that
// is merely unreachable.
func rejected(err error) bool {
	for _, e := range []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked,
		nats.ErrAccountAuthExpired, nats.ErrSecureConnRequired, nats.ErrSecureConnWanted, nats.ErrNkeysNotSupported} {
		if errors.Is(err, e) {
			return true
		}
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
	)
	// A server that refuses the client's certificate says so in a TLS alert, which crypto/tls
	// reports as "remote error: tls: ..." without an exported type.
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls:")
}

// replicasRefused reports the server saying it cannot have more than one replica at all (not
// clustered). A cluster short of peers answers differently and is retried: peers may be starting.
func replicasRefused(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsReplicasNotSupported
}

// jsReplicasNotSupported is the JetStream error "replicas > 1 not supported in non-clustered mode".
const jsReplicasNotSupported jetstream.ErrorCode = 10074

// redact is the comma-separated server list without passwords or tokens, for logs and errors.
func redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a token
			}
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
