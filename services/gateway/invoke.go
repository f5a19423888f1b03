package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// QueueAllowance is how long a synchronous call may wait for a free instance on top of the
// function's own timeout before the caller gets 504.
const QueueAllowance = 30 * time.Second

// Call is one invocation to make.
type Call struct {
	ID          string // the invocation id; a new one when empty
	Version     events.Version
	Type        string // CloudEvent type; events.TypeInvoke when empty
	Source      string // CloudEvent source; "/sluice/gateway" when empty
	Subject     string
	Trigger     string // invoke, http, ...
	ContentType string
	Data        []byte
}

func (c Call) event(id string) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType(or(c.Type, events.TypeInvoke))
	ev.SetSource(or(c.Source, "/sluice/gateway"))
	if c.Subject != "" {
		ev.SetSubject(c.Subject)
	}
	ev.SetTime(time.Now())
	ev.SetExtension(events.ExtVersion, strconv.Itoa(c.Version.Version))
	ev.SetExtension(events.ExtTrigger, or(c.Trigger, "invoke"))
	if len(c.Data) > 0 {
		ev.DataEncoded = c.Data
		ev.SetDataContentType(or(c.ContentType, "application/json"))
	}
	return ev
}

// SyncWait is the longest a synchronous call of v waits for its answer: the function's timeout
// plus QueueAllowance.
func SyncWait(v events.Version) time.Duration { return v.Config.Timeout.D() + QueueAllowance }

// Sync invokes and waits for the result: SyncWait at most. It refuses the call with
// ErrTooManyWaiting when the function has MaxWaiting synchronous calls waiting here.
func (g *Gateway) Sync(ctx context.Context, c Call) (events.Result, error) {
	fn := c.Version.Function
	if !g.enter(fn) {
		return events.Result{Function: fn}, fmt.Errorf("function %s has %d synchronous calls waiting at this gateway, the most it lets wait: %w", fn, g.maxWaiting, ErrTooManyWaiting)
	}
	defer g.leave(fn)
	id := c.id()
	wait := SyncWait(c.Version)
	deadline := time.Now().Add(wait)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	ev := c.event(id)
	ev.SetExtension(events.ExtDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
	m, err := events.NewMsg(events.InvokeSubject(c.Version.Function), ev)
	if err != nil {
		return events.Result{}, err
	}
	inbox, replies, forget := g.expect()
	defer forget()
	m.Header.Set(events.HeaderReply, inbox)
	ack, err := g.js.PublishMsgAsync(m, g.publish...)
	if err != nil {
		return events.Result{}, fmt.Errorf("publish invocation: %w", err)
	}
	acked := ack.Ok()
	for {
		select {
		case r := <-replies:
			return events.ParseReply(c.Version.Function, id, r)
		case <-acked:
			acked = nil
		case err := <-ack.Err():
			return events.Result{}, fmt.Errorf("publish invocation: %w", err)
		case <-ctx.Done():
			return events.Result{ID: id, Function: c.Version.Function}, fmt.Errorf("invocation %s of %s after %s: %w", id, c.Version.Function, wait, ErrNoAnswer)
		}
	}
}

// Async stores the invocation and returns its id once JetStream holds it.
func (g *Gateway) Async(ctx context.Context, c Call) (string, error) {
	id := c.id()
	m, err := events.NewMsg(events.InvokeSubject(c.Version.Function), c.event(id))
	if err != nil {
		return "", err
	}
	rec, err := events.NewQueuedResult(id, c.Version.Function, c.Version.Version, time.Now())
	if err != nil {
		return "", err
	}
	recAck, err := g.js.PublishMsgAsync(rec, g.publish...)
	if err != nil {
		return "", fmt.Errorf("record invocation: %w", err)
	}
	evAck, err := g.js.PublishMsgAsync(m, g.publish...)
	if err != nil {
		return "", fmt.Errorf("publish invocation: %w", err)
	}
	var recErr, evErr error
	for _, a := range []jetstream.PubAckFuture{evAck, recAck} {
		select {
		case <-a.Ok():
		case err := <-a.Err():
			if a == evAck {
				evErr = err
			} else {
				// The worker may already have written the result; the queued record is not needed.
				recErr = err
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if evErr != nil {
		// Refused (a full queue): the invocation does not exist, so neither does its record.
		if recErr == nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := g.results.Delete(dctx, events.ResultKey(id)); err != nil {
				g.logger.Warn("remove the record of a refused invocation", "invocation", id, "err", err)
			}
		}
		return "", fmt.Errorf("publish invocation: %w", evErr)
	}
	return id, nil
}

// Result reads an async invocation's record by its id as it came (whatever its key).
func (g *Gateway) Result(ctx context.Context, id string) (events.Result, error) {
	return events.ReadResult(ctx, g.results, id)
}

func (c Call) id() string {
	if c.ID != "" {
		return c.ID
	}
	return uuid.NewString()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
