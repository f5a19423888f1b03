package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"sluice.dev/adapters/batch"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Defaults of the spec's settings.
const (
	DefaultBatch       = 64
	DefaultMaxInFlight = 16
	maxSetting         = 10_000
)

// Backoff of an unreachable broker.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 30 * time.Second
)

// ErrUnusable marks a message that can never become a valid event (too large, headers too large);
// it is refused, reported, and never retried.
var ErrUnusable = errors.New("message cannot become an event")

// consumer serves one source until ctx ends or the connection to its broker is lost. It calls
// h.running once it consumes, and returns why it stopped.
type consumer interface {
	consume(ctx context.Context, pub trigger.Publisher, h *health) error
}

// Adapter consumes one queue for one trigger. Made by New; Run may be called once at a time.
type Adapter struct {
	spec     events.Trigger
	src      source
	batch    int
	inFlight int
	log      *slog.Logger
	consumer consumer
	order    *events.OrderSource // where a message's order key is; nil when unordered
}

// New is the trigger.Factory of queue triggers: it validates the spec and its URL, and picks
// the source by the URL's scheme.
func New(spec events.Trigger) (trigger.Adapter, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Kind != events.TriggerQueue || spec.Queue == nil {
		return nil, fmt.Errorf("%w: not a queue trigger", events.ErrInvalidTrigger)
	}
	if spec.ID == "" {
		return nil, fmt.Errorf("%w: queue trigger without an id", events.ErrInvalidTrigger)
	}
	q := *spec.Queue
	if q.Batch < 0 || q.Batch > maxSetting || q.MaxInFlight < 0 || q.MaxInFlight > maxSetting {
		return nil, fmt.Errorf("%w: queue batch and maxInFlight must be between 1 and %d (0 for the defaults)", events.ErrInvalidTrigger, maxSetting)
	}
	src, err := parseURL(q.URL)
	if err != nil {
		return nil, err
	}
	a := &Adapter{spec: spec, src: src, batch: orDefault(q.Batch, DefaultBatch), inFlight: orDefault(q.MaxInFlight, DefaultMaxInFlight),
		log: slog.With("trigger", spec.ID, "queue", src.public)}
	if b := q.Batching; b != nil {
		if err := b.Validate(); err != nil {
			return nil, err
		}
		// A batch fills from messages in flight at once: as many as it holds.
		a.inFlight = max(a.inFlight, b.Size)
		a.batch = max(a.batch, min(b.Size, maxSetting))
	}
	if q.OrderKey != "" {
		o, err := events.ParseOrderKey(q.OrderKey)
		if err != nil {
			return nil, err
		}
		switch {
		case o.From == events.OrderFromObjectKey,
			o.From == events.OrderFromRoutingKey && src.scheme != schemeAMQP,
			o.From == events.OrderFromSubject && src.scheme == schemeAMQP:
			return nil, fmt.Errorf("%w: order key %s does not go with a %s queue", events.ErrInvalidTrigger, q.OrderKey, src.scheme)
		case q.Batching != nil:
			return nil, fmt.Errorf("%w: a trigger has an order key or batches, not both", events.ErrInvalidTrigger)
		}
		a.order = &o
		if src.scheme == schemeAMQP {
			// One consumer takes the queue in its order; the workers run other keys side by side.
			a.inFlight = 1
		}
	}
	switch src.scheme {
	case schemeNATS:
		a.consumer = &natsConsumer{a: a}
	case schemeJetStream:
		a.consumer = &jsConsumer{a: a}
	case schemeAMQP:
		a.consumer = &amqpConsumer{a: a}
	}
	return a, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Run consumes the queue until ctx ends, reconnecting with backoff; it returns nil then.
func (a *Adapter) Run(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
	if b := a.spec.Queue.Batching; b != nil {
		pub = batch.New(pub, *b, a.merge)
	}
	h := newHealth(a.spec.ID, report)
	h.set(events.StateStarting, nil)
	delay := backoffMin
	for {
		err := a.spec.RedactError(a.consumer.consume(ctx, pub, h))
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, events.ErrInvalidTrigger) {
			h.set(events.StateFailed, err)
			return err
		}
		if err == nil {
			err = errors.New("connection ended")
		}
		if h.resetRunning() {
			delay = backoffMin
		}
		a.log.Warn("queue unreachable, retrying", "err", err, "in", delay)
		h.set(events.StateRetrying, err)
		if !sleep(ctx, jitter(delay)) {
			return nil
		}
		delay = min(delay*2, backoffMax)
	}
}

// jitter spreads d by ±20% so that adapter processes do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// eventID builds a deterministic event id: the trigger id, then the source's parts. A part
// holding a control character (an AMQP message-id may) is replaced by its hash: an id is a
// header of the bus's message, and a line break in it would start another header.
func (a *Adapter) eventID(parts ...string) string {
	for i, p := range parts {
		if strings.ContainsFunc(p, unicode.IsControl) {
			sum := sha256.Sum256([]byte(p))
			parts[i] = "h" + hex.EncodeToString(sum[:16])
		}
	}
	return a.spec.ID + "-" + strings.Join(parts, "-")
}
