package worker

import (
	"context"
	"errors"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// The waits of an event that may not run yet: its time has not come, or it is not its key's
// turn.

// Delays before an ordered event that is not its key's oldest is offered again: short at
// first, as the older one may be finishing, then longer, as it may be waiting for a retry.
const (
	turnWaitMin = 20 * time.Millisecond
	turnWaitMax = time.Second
)

// waitUntil hands back an async event whose time has not come (events.ExtNotBefore: a batch's
// failed records waiting out their back-off), offered again when it has, no retry spent.
func waitUntil(j job, ev event.Event, now time.Time) (outcome, bool) {
	at := events.EventNotBefore(ev)
	if at.IsZero() || j.reply != "" || !now.Before(at) {
		return outcome{}, false
	}
	return outcome{exit: handedBack, res: events.Result{ID: j.id, Function: j.fn}, delay: at.Sub(now)}, true
}

// waitTurn hands back an event with an order key (events.ExtOrderKey) while an older event of
// that key still waits in SLUICE_INVOKE: it runs only as its key's oldest. The event goes back
// to the consumer without spending a retry, offered again after a delay that grows with its
// deliveries. A synchronous call, or an event whose key's oldest cannot be read, is not held.
func (w *Worker) waitTurn(ctx context.Context, j job, ev event.Event) (outcome, bool) {
	key := events.OrderKey(ev)
	if key == "" || j.reply != "" {
		return outcome{}, false
	}
	oldest, err := w.queue.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(events.KeySubject(j.fn, key)))
	if err != nil {
		if !errors.Is(err, jetstream.ErrMsgNotFound) && ctx.Err() == nil {
			w.logger.Warn("read the oldest event of an order key; running this one", "function", j.fn, "invocation", j.id, "err", err)
		}
		return outcome{}, false
	}
	if oldest.Sequence >= j.seq {
		return outcome{}, false
	}
	wait := min(turnWaitMin<<min(j.delivered-1, 10), turnWaitMax)
	return outcome{exit: handedBack, res: events.Result{ID: j.id, Function: j.fn}, delay: wait}, true
}
