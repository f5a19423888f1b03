package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"sluice.dev/adapters/trigger"
)

// Metadata keys the adapter's marshaler adds beside a delivery's headers.
const (
	metaPrefix      = "sluice:"
	metaID          = metaPrefix + "id"
	metaContentType = metaPrefix + "content-type"
	metaTime        = metaPrefix + "time"
	metaRoutingKey  = metaPrefix + "routing-key"
)

// amqpConsumer reads a RabbitMQ queue through Watermill.
type amqpConsumer struct{ a *Adapter }

func (c *amqpConsumer) consume(ctx context.Context, pub trigger.Publisher, h *health) error {
	a := c.a
	cfg := wamqp.NewDurableQueueConfig(a.src.server)
	cfg.Connection.AmqpConfig = &amqp.Config{Dial: amqp.DefaultDial(dialTimeout), Heartbeat: 10 * time.Second,
		Properties: amqp.Table{"connection_name": "sluice queue trigger " + a.spec.ID}}
	cfg.Consume.Qos.PrefetchCount = 1 // per consumer; inFlight consumers
	cfg.Marshaler = marshaler{}
	// Watermill logs every lost connection at error level; the adapter reports those itself.
	logger := watermill.NewSlogLoggerWithLevelMapping(a.log, map[slog.Level]slog.Level{
		slog.LevelError: slog.LevelDebug, slog.LevelWarn: slog.LevelDebug, slog.LevelInfo: slog.LevelDebug})
	conn, err := wamqp.NewConnection(cfg.Connection, logger)
	if err != nil {
		return fmt.Errorf("connect %s: %w", a.src.public, err)
	}
	// Watermill would reconnect on its own, silently; the adapter closes everything instead and
	// lets Run's backoff reconnect, reporting it.
	lost := conn.Connection().NotifyClose(make(chan *amqp.Error, 1))
	sub, err := wamqp.NewSubscriberWithConnection(cfg, logger, conn)
	if err != nil {
		conn.Close() //nolint:errcheck // failing already
		return fmt.Errorf("subscriber %s: %w", a.src.public, err)
	}
	defer conn.Close() //nolint:errcheck // nothing to do about it
	defer sub.Close()  //nolint:errcheck // closes the consumers before the connection
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	var outs []<-chan *message.Message
	for range a.inFlight {
		out, err := sub.Subscribe(subCtx, a.src.target)
		if err != nil {
			return fmt.Errorf("consume queue %s: %w", a.src.target, err)
		}
		outs = append(outs, out)
	}
	h.running()

	var wg sync.WaitGroup
	for _, out := range outs {
		wg.Go(func() {
			for m := range out {
				c.handle(ctx, pub, h, m)
			}
		})
	}
	var err2 error
	select {
	case <-ctx.Done():
	case e := <-lost:
		err2 = fmt.Errorf("connection to %s lost", a.src.public)
		if e != nil {
			err2 = fmt.Errorf("connection to %s lost: %w", a.src.public, e)
		}
	}
	stop()
	sub.Close() //nolint:errcheck // nacks what is not acked yet and ends the outs
	wg.Wait()
	return err2
}

// handle publishes one delivery and settles it: Ack once the bus acked; Ack and report when it
// can never become an event; Nack (requeued) after a delay when the bus failed.
func (c *amqpConsumer) handle(ctx context.Context, pub trigger.Publisher, h *health, m *message.Message) {
	a := c.a
	msg := item{subject: a.src.target, data: m.Payload, contentType: m.Metadata.Get(metaContentType),
		routingKey: m.Metadata.Get(metaRoutingKey)}
	id := m.Metadata.Get(metaID)
	if id == "" {
		id = m.UUID
	}
	if id == "" {
		id = watermill.NewUUID()
	}
	msg.id = a.eventID(id)
	if t, err := time.Parse(time.RFC3339Nano, m.Metadata.Get(metaTime)); err == nil {
		msg.time = t
	}
	for k, v := range m.Metadata {
		if strings.HasPrefix(k, metaPrefix) || strings.HasPrefix(k, "_watermill") {
			continue
		}
		if msg.headers == nil {
			msg.headers = map[string][]string{}
		}
		msg.headers[k] = []string{v}
	}
	ev, err := a.newEvent(msg)
	if err == nil {
		err = pub.Publish(ctx, a.spec.Function, ev)
	}
	switch {
	case err == nil:
		m.Ack()
		h.published()
	case isPermanent(err):
		a.log.Error("queue message dropped", "id", msg.id, "err", err)
		m.Ack()
		h.problem(err)
	default:
		if ctx.Err() == nil {
			h.problem(err)
			sleep(ctx, jitter(time.Second)) // requeued at once otherwise: no busy loop on a broken bus
		}
		m.Nack()
	}
}

// marshaler turns deliveries into Watermill messages keeping what the adapter needs: the
// message-id property (else Watermill's uuid header) as the UUID, the content type, the
// timestamp, and every header as a string.
type marshaler struct{}

func (marshaler) Marshal(m *message.Message) (amqp.Publishing, error) {
	p, err := wamqp.DefaultMarshaler{}.Marshal(m)
	if err != nil {
		return p, err
	}
	p.MessageId = m.UUID
	return p, nil
}

func (marshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	uuid := ""
	if v, ok := d.Headers[wamqp.DefaultMessageUUIDHeaderKey].(string); ok {
		uuid = v
	}
	m := message.NewMessage(uuid, d.Body)
	for k, v := range d.Headers {
		if k == wamqp.DefaultMessageUUIDHeaderKey {
			continue
		}
		if s, ok := v.(string); ok {
			m.Metadata.Set(k, s)
		} else {
			m.Metadata.Set(k, fmt.Sprint(v))
		}
	}
	if d.MessageId != "" {
		m.Metadata.Set(metaID, d.MessageId)
	}
	if d.ContentType != "" {
		m.Metadata.Set(metaContentType, d.ContentType)
	}
	if !d.Timestamp.IsZero() {
		m.Metadata.Set(metaTime, d.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if d.RoutingKey != "" {
		m.Metadata.Set(metaRoutingKey, d.RoutingKey)
	}
	return m, nil
}
