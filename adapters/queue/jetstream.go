package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// ackWait is how long a JetStream delivery may wait for the bus before it is redelivered.
const ackWait = 30 * time.Second

// jsConsumer reads a JetStream stream through a durable pull consumer.
type jsConsumer struct{ a *Adapter }

func (c *jsConsumer) consume(ctx context.Context, pub trigger.Publisher, h *health) error {
	a := c.a
	nc, lost, err := dial(a)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream %s: %w", a.src.public, err)
	}
	setup, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	stream, err := js.Stream(setup, a.src.target)
	if err != nil {
		return fmt.Errorf("stream %s: %w", a.src.target, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(setup, jetstream.ConsumerConfig{
		Durable:       groupName(a.spec.ID),
		Description:   "sluice queue trigger " + a.spec.ID + " of function " + a.spec.Function,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: a.inFlight,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer on stream %s: %w", a.src.target, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(a.batch))
	if err != nil {
		return fmt.Errorf("consume stream %s: %w", a.src.target, err)
	}
	h.running()

	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range a.inFlight {
		wg.Go(func() {
			for m := range msgs {
				c.handle(ctx, pub, h, m)
			}
		})
	}
	var ordered *lanes[jetstream.Msg] // with an order key, a key's messages go one after another
	if a.order != nil {
		ordered = startLanes(a.inFlight, func(m jetstream.Msg) { c.handle(ctx, pub, h, m) })
	}
	stopped := make(chan struct{})
	go func() { // ends the iterator, which ends the reader below
		select {
		case <-ctx.Done():
		case <-lost:
		}
		it.Stop()
		close(stopped)
	}()
	var readErr error
	for {
		m, err := it.Next()
		if err != nil {
			readErr = err
			break
		}
		if ordered != nil {
			ordered.add(a.order.Key(headersOf(m.Headers()), m.Subject(), "", ""), m, nil)
			continue
		}
		msgs <- m
	}
	close(msgs)
	wg.Wait()
	if ordered != nil {
		ordered.stop()
	}
	nc.Close()
	<-stopped
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(readErr, jetstream.ErrMsgIteratorClosed) {
		readErr = nil
	}
	if le := nc.LastError(); le != nil && readErr == nil {
		readErr = le
	}
	if readErr != nil {
		return fmt.Errorf("connection to %s lost: %w", a.src.public, readErr)
	}
	return fmt.Errorf("connection to %s lost", a.src.public)
}

// handle publishes one delivery and settles it: Ack once the bus acked, Term when it can never
// become an event, NakWithDelay otherwise.
func (c *jsConsumer) handle(ctx context.Context, pub trigger.Publisher, h *health, m jetstream.Msg) {
	a := c.a
	md, err := m.Metadata()
	if err != nil { // not a JetStream delivery: nothing to settle
		h.problem(fmt.Errorf("delivery without metadata: %w", err))
		return
	}
	msg := item{
		id:      a.eventID(md.Stream, strconv.FormatUint(md.Sequence.Stream, 10)),
		subject: m.Subject(),
		data:    m.Data(),
		headers: headersOf(m.Headers()),
		time:    md.Timestamp,
	}
	if ct := m.Headers().Get("Content-Type"); ct != "" {
		msg.contentType = ct
		delete(msg.headers, "Content-Type")
	}
	ev, err := a.newEvent(msg)
	if err == nil {
		err = pub.Publish(ctx, a.spec.Function, ev)
	}
	switch {
	case err == nil:
		if err := m.Ack(); err != nil { // redelivered later; the bus absorbs the duplicate
			a.log.Warn("queue ack failed", "id", msg.id, "err", err)
		}
		h.published()
	case isPermanent(err):
		a.log.Error("queue message refused", "id", msg.id, "err", err)
		if err := m.Term(); err != nil {
			a.log.Warn("queue term failed", "id", msg.id, "err", err)
		}
		h.problem(err)
	default:
		delay := min(backoffMin<<min(md.NumDelivered, 10), backoffMax)
		if ctx.Err() == nil {
			h.problem(err)
		}
		if err := m.NakWithDelay(delay); err != nil {
			a.log.Warn("queue nak failed", "id", msg.id, "err", err)
		}
	}
}

// isMalformed reports an event the bus refused as malformed.
func isMalformed(err error) bool { return errors.Is(err, events.ErrMalformed) }
