package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"sluice.dev/adapters/trigger"
)

// dialTimeout bounds one connection attempt to a broker.
const dialTimeout = 3 * time.Second

// dial connects to a NATS server without the client's own reconnection: a lost connection ends
// the consumer, and Run's backoff (which reports it) takes over. lost is closed when the
// connection is.
func dial(a *Adapter) (nc *nats.Conn, lost <-chan struct{}, err error) {
	closed := make(chan struct{})
	var once sync.Once
	nc, err = nats.Connect(a.src.server,
		nats.Name("sluice queue trigger "+a.spec.ID),
		nats.NoReconnect(),
		nats.Timeout(dialTimeout),
		nats.ClosedHandler(func(*nats.Conn) { once.Do(func() { close(closed) }) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			a.log.Warn("queue connection error", "err", err)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", a.src.public, err)
	}
	return nc, closed, nil
}

// groupName is the queue group (core NATS) or durable consumer (JetStream) of a trigger: its id
// with the characters NATS does not allow in names replaced.
func groupName(id string) string {
	return "sluice-" + strings.Map(func(r rune) rune {
		if r <= ' ' || r == '.' || r == '*' || r == '>' || r == '/' || r == '\\' || r > '~' {
			return '_'
		}
		return r
	}, id)
}

// natsConsumer reads a core NATS subject in a queue group.
type natsConsumer struct{ a *Adapter }

func (c *natsConsumer) consume(ctx context.Context, pub trigger.Publisher, h *health) error {
	a := c.a
	nc, lost, err := dial(a)
	if err != nil {
		return err
	}
	defer nc.Close()
	// The client's pending buffer (65,536 messages, 64 MiB) takes bursts while the workers
	// publish; the callback blocks on them.
	msgs := make(chan *nats.Msg)
	done := make(chan struct{})
	sub, err := nc.QueueSubscribe(a.src.target, groupName(a.spec.ID), func(m *nats.Msg) {
		select {
		case msgs <- m:
		case <-done:
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", a.src.target, err)
	}
	if err := nc.FlushTimeout(dialTimeout); err != nil {
		return fmt.Errorf("subscribe %s: %w", a.src.target, err)
	}
	h.running()

	var wg sync.WaitGroup
	if a.order != nil { // a key's messages go one after another, on their lane
		ordered := startLanes(a.inFlight, func(m *nats.Msg) { c.handle(ctx, pub, h, m) })
		wg.Go(func() {
			defer ordered.stop()
			for {
				select {
				case <-done:
					return
				case m := <-msgs:
					ordered.add(a.order.Key(headersOf(m.Header), m.Subject, "", ""), m, done)
				}
			}
		})
	} else {
		for range a.inFlight {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					case m := <-msgs:
						c.handle(ctx, pub, h, m)
					}
				}
			})
		}
	}
	defer wg.Wait()
	defer close(done)
	defer sub.Unsubscribe() //nolint:errcheck // the connection closes next
	select {
	case <-ctx.Done():
		return nil
	case <-lost:
		if err := nc.LastError(); err != nil {
			return fmt.Errorf("connection to %s lost: %w", a.src.public, err)
		}
		return fmt.Errorf("connection to %s lost", a.src.public)
	}
}

// handle publishes one message, retrying the bus until it takes it or ctx ends: core NATS cannot
// redeliver, so giving up would lose it.
func (c *natsConsumer) handle(ctx context.Context, pub trigger.Publisher, h *health, m *nats.Msg) {
	a := c.a
	id := m.Header.Get(nats.MsgIdHdr)
	if id == "" {
		id = nuid.Next()
	}
	msg := item{id: a.eventID(id), subject: m.Subject, data: m.Data, headers: headersOf(m.Header)}
	if ct := m.Header.Get("Content-Type"); ct != "" {
		msg.contentType = ct
		delete(msg.headers, "Content-Type")
	}
	ev, err := a.newEvent(msg)
	if err != nil {
		a.log.Error("queue message dropped", "err", err)
		h.problem(err)
		return
	}
	delay := backoffMin
	for {
		err := pub.Publish(ctx, a.spec.Function, ev)
		if err == nil {
			h.published()
			return
		}
		if ctx.Err() != nil || isPermanent(err) {
			a.log.Error("queue message lost", "id", ev.ID(), "err", err)
			h.problem(fmt.Errorf("message %s lost: %w", ev.ID(), err))
			return
		}
		h.problem(err)
		if !sleep(ctx, jitter(delay)) {
			return
		}
		delay = min(delay*2, backoffMax)
	}
}

// headersOf copies a message's headers without NATS's own (Nats-*), nil when none are left.
func headersOf(hd nats.Header) map[string][]string {
	var out map[string][]string
	for k, v := range hd {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = v
	}
	return out
}

// isPermanent reports a publish error that no retry can fix.
func isPermanent(err error) bool {
	return errors.Is(err, ErrUnusable) || isMalformed(err)
}
