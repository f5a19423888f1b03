package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// QueueAllowance is how long a synchronous call may wait for a free instance on top of the
// function's own timeout before the caller gets 504.
const QueueAllowance = 30 * time.Second

// Call is one invocation to make.
type Call struct {
	ID string // the invocation id; a new one when empty
	// Minted says the caller minted ID for this call (a function URL's or a route's request
	// event carries it), so, as for an empty ID, no record of it can exist yet.
	Minted      bool
	Version     events.Version
	Type        string // CloudEvent type; events.TypeInvoke when empty
	Source      string // CloudEvent source; "/sluice/gateway" when empty
	Subject     string
	Trigger     string // invoke, http, ...
	ContentType string
	Data        []byte
	LogTail     bool      // a synchronous caller wants the tail of the attempt's log (Result.LogTail)
	deadline    time.Time // a synchronous caller's; set by Sync
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
	if !c.deadline.IsZero() {
		ev.SetExtension(events.ExtDeadline, strconv.FormatInt(c.deadline.UnixMilli(), 10))
	}
	if c.LogTail {
		ev.SetExtension(events.ExtLogTail, "1")
	}
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
// ErrTooManyWaiting when the function has MaxWaiting synchronous calls waiting here, or as many
// as its reserved concurrency.
func (g *Gateway) Sync(ctx context.Context, c Call) (events.Result, error) {
	fn := c.Version.Function
	if r := c.Version.Config.Reserved; r > 0 && r < g.maxWaiting {
		if !g.enter(fn, r) {
			return events.Result{Function: fn}, fmt.Errorf("function %s has a reserved concurrency of %d, all of it in use: %w", fn, r, ErrTooManyWaiting)
		}
	} else if !g.enter(fn, g.maxWaiting) {
		return events.Result{Function: fn}, fmt.Errorf("function %s has %d synchronous calls waiting at this gateway, the most it lets wait: %w", fn, g.maxWaiting, ErrTooManyWaiting)
	}
	defer g.leave(fn)
	wait := SyncWait(c.Version)
	deadline := time.Now().Add(wait)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	c.deadline = deadline
	ev, m, id, err := c.msg()
	if err != nil {
		return events.Result{}, err
	}
	if g.local != nil {
		if res, ok := g.local.Call(c.Version.Function, ev); ok {
			return res, nil
		}
	}
	inbox, replies, forget := g.expect()
	defer forget()
	m.Header.Set(events.HeaderReply, inbox)
	if res, ok, err := g.direct(ctx, c.Version.Function, id, m, replies); ok {
		return res, err
	}
	ack, err := g.js.PublishMsgAsync(m, g.publish...)
	if err != nil {
		return events.Result{}, fmt.Errorf("publish invocation: %w", err)
	}
	acked := ack.Ok()
	for {
		select {
		case r := <-replies:
			if events.DirectWord(r) != "" { // a late word of a direct worker that fell silent
				continue
			}
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

// direct offers the call's event m to a worker with a free warm instance (events.DirectSubject)
// and waits for its answer. ok is false when no worker took the call, or the one that did fell
// silent for the gateway's DirectSilence: the caller then stores the event, for the durable path.
func (g *Gateway) direct(ctx context.Context, fn, id string, m *nats.Msg, replies <-chan *nats.Msg) (res events.Result, ok bool, err error) {
	offer := &nats.Msg{Subject: events.DirectSubject(fn), Reply: m.Header.Get(events.HeaderReply), Header: m.Header, Data: m.Data}
	if err := g.nc.PublishMsg(offer); err != nil {
		return events.Result{}, false, nil
	}
	silence := time.NewTimer(g.silence)
	defer silence.Stop()
	for {
		select {
		case r := <-replies:
			switch events.DirectWord(r) {
			case events.DirectBusy:
				return events.Result{}, false, nil
			case events.DirectRunning:
				silence.Reset(g.silence)
				continue
			}
			res, err := events.ParseReply(fn, id, r)
			return res, true, err
		case <-silence.C:
			g.logger.Warn("a worker took a direct call and fell silent; storing it", "function", fn, "invocation", id)
			return events.Result{}, false, nil
		case <-ctx.Done():
			return events.Result{ID: id, Function: fn}, true, fmt.Errorf("invocation %s of %s: %w", id, fn, ErrNoAnswer)
		}
	}
}

// Async stores the invocation and returns its id once JetStream holds it. Nothing else is
// written: while the event waits, its status is read off the event itself (events.FindQueued).
func (g *Gateway) Async(ctx context.Context, c Call) (string, error) {
	_, m, id, err := c.msg()
	if err != nil {
		return "", err
	}
	if _, err := g.js.PublishMsg(ctx, m, g.publish...); err != nil {
		return "", fmt.Errorf("publish invocation: %w", err)
	}
	return id, nil
}

// msg makes the call's event and its invocation message (validated and encoded, as every event
// stored must be), and the id: the caller's, or one minted for it (and marked so,
// events.HeaderFresh).
func (c Call) msg() (event.Event, *nats.Msg, string, error) {
	id := c.ID
	if id == "" {
		id = uuid.NewString()
	}
	ev := c.event(id)
	m, err := events.NewMsg(events.EventSubject(c.Version.Function, id), ev)
	if err != nil {
		return ev, nil, "", err
	}
	if c.ID == "" || c.Minted {
		m.Header.Set(events.HeaderFresh, "1")
	}
	return ev, m, id, nil
}

// Result reads an async invocation's record by its id as it came (whatever its key), or its
// waiting event as queued.
func (g *Gateway) Result(ctx context.Context, id string) (events.Result, error) {
	return events.ReadStatus(ctx, g.results, g.queue, id)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
