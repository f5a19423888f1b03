package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// calls admits the direct calls of one pool while it is served, and lets serve wait for those
// running once it shuts the door. The zero value admits none until opened.
type calls struct {
	mu     sync.Mutex
	ctx    context.Context // serve's run context: what direct calls run and are reported under
	open   bool
	active sync.WaitGroup
}

// start opens the door, with ctx as the calls' run context.
func (c *calls) start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx, c.open = ctx, true
}

// enter admits one call and returns its run context; false once the door is shut.
func (c *calls) enter() (context.Context, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open {
		return nil, false
	}
	c.active.Add(1)
	return c.ctx, true
}

// leave counts a call out.
func (c *calls) leave() { c.active.Done() }

// shut admits no more calls.
func (c *calls) shut() {
	c.mu.Lock()
	c.open = false
	c.mu.Unlock()
}

// wait waits for the calls admitted.
func (c *calls) wait() { c.active.Wait() }

// takeDirect opens p's door to direct calls and subscribes to the direct path of its function
// (events.DirectSubject): synchronous calls a gateway offers without storing them, each run on
// its own goroutine. The returned func unsubscribes and shuts the door; serve's drain waits for
// the calls admitted (calls.wait).
func (w *Worker) takeDirect(runCtx context.Context, p *pool, log *slog.Logger) (stop func()) {
	p.calls.start(runCtx)
	sub, err := w.nc.QueueSubscribe(events.DirectSubject(p.fn), events.DirectQueue(p.fn), func(m *nats.Msg) {
		ctx, ok := p.calls.enter()
		if !ok {
			w.busy(m.Header.Get(events.HeaderReply))
			return
		}
		go func() {
			defer p.calls.leave()
			w.direct(ctx, p, m)
		}()
	})
	if err != nil { // calls take the durable path
		log.Warn("subscribe to direct calls", "err", err)
	}
	return func() {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		p.calls.shut()
	}
}

// busy tells a direct caller to store its event instead.
func (w *Worker) busy(inbox string) {
	if inbox != "" {
		_ = w.nc.PublishMsg(events.NewDirectWord(inbox, events.DirectBusy))
	}
}

// direct runs a synchronous call offered on the direct path when takeCall finds room for it,
// answering on the caller's inbox, or answers events.DirectBusy at once.
func (w *Worker) direct(ctx context.Context, p *pool, m *nats.Msg) {
	inbox := m.Header.Get(events.HeaderReply)
	if inbox == "" {
		return
	}
	ev, err := events.ParseHeaders(m.Header, m.Data)
	if err != nil { // the durable path answers it
		w.busy(inbox)
		return
	}
	c, n, ok := w.newCall(p, ev)
	if !ok || !w.takeCall(ctx, p, &c, n) {
		w.busy(inbox)
		return
	}
	c.j.reply = inbox
	stopBeat := beat(w.nc, inbox)
	res := w.invoke(ctx, c.j, c.v, c.ev, c.l, nil)
	stopBeat()
	peak := w.free(c, &res)
	w.answer(&c.j, res)
	w.meter(ctx, c, res, peak)
}

// Call runs a synchronous call of fn's event ev for a gateway in the same process, without the
// bus: on a free warm instance of this worker, or on one it starts for the call (coldCall). ok
// is false when there is no room here, and the caller takes the bus. The caller gets what a
// reply would carry (events.ReplyOf); the attempt is metered after Call returns.
func (w *Worker) Call(fn string, ev event.Event) (events.Result, bool) {
	p, ok := w.instances.pool(fn)
	if !ok {
		return events.Result{}, false
	}
	ctx, ok := p.calls.enter()
	if !ok {
		return events.Result{}, false
	}
	c, n, ok := w.newCall(p, ev)
	if !ok || !w.takeCall(ctx, p, &c, n) && !w.coldCall(ctx, p, &c) {
		p.calls.leave()
		return events.Result{}, false
	}
	res := w.invoke(ctx, c.j, c.v, c.ev, c.l, c.startErr)
	peak := w.free(c, &res)
	go func() {
		defer p.calls.leave()
		w.meter(ctx, c, res, peak)
	}()
	return events.ReplyOf(res), true
}

// call is a direct call taken: its job, event, version and the room it runs in.
type call struct {
	j        job
	ev       event.Event
	v        events.Version
	l        lease
	release  func() // gives back the room in the pool
	startErr error  // why the instance started for the call did not (coldCall)
}

// newCall makes the call of ev and reads the version it names; ok is false for a call the
// durable path is left to: one naming no version, one the worker is draining for, one whose
// caller's deadline passed.
func (w *Worker) newCall(p *pool, ev event.Event) (c call, version int, ok bool) {
	c = call{j: job{fn: p.fn, delivered: 1, attempt: 1, start: time.Now()}, ev: ev}
	c.j.describe(ev)
	version = events.EventVersion(ev)
	return c, version, version != 0 && !w.draining.Load() && !late(c.j)
}

// takeCall finds room for c on a free warm instance of its version, under one of the slots the
// pool holds, so the function's max holds, and when no delivered event waits for that room; the
// steps after are the durable path's (invoke, vacate, answer, report) without the stream: no
// delivery to acknowledge, and nothing recorded but the attempt's meter.
func (w *Worker) takeCall(ctx context.Context, p *pool, c *call, version int) bool {
	if !p.tryAcquireDirect(false) {
		return false
	}
	x := p.takeWarm(version)
	if x == nil {
		p.release()
		return false
	}
	c.l, c.release = lease{in: w.instances, pool: p, x: x, kind: startWarm}, sync.OnceFunc(p.release)
	var err error
	if c.v, err = w.resolve(ctx, &c.j, c.ev); err != nil {
		c.l.Release(true)
		c.release()
		return false
	}
	return true
}

// coldCall runs c in the gateway's process when no free warm instance of its version took it:
// it takes room as a delivered event would (a slot held with room, or the pool's probe) and
// starts an instance there, claiming its slot meanwhile when it has none, so the function's max
// holds. It returns false when the slots held are busy, when a delivered event waits here, or
// when no slot is to be had; the caller then stores the event, and the stream finds it room.
func (w *Worker) coldCall(ctx context.Context, p *pool, c *call) bool {
	if !w.instances.admitCall(p) {
		return false
	}
	c.release = sync.OnceFunc(p.release)
	var err error
	if c.v, err = w.resolve(ctx, &c.j, c.ev); err != nil {
		c.release()
		return false
	}
	c.l, c.startErr = w.instances.Acquire(ctx, p, c.v)
	if errors.Is(c.startErr, errNoCapacity) {
		c.release()
		return false
	}
	return true
}

// free gives the instance and the room back before the caller has its answer, so that a
// caller's next call finds them free; it returns the attempt's peak memory.
func (w *Worker) free(c call, res *events.Result) (peak uint64) {
	peak = w.vacate(c.j, c.v, c.l, res)
	c.release()
	return peak
}

// meter reports the attempt.
func (w *Worker) meter(ctx context.Context, c call, res events.Result, peak uint64) {
	if err := w.report(ctx, c.j, c.v, c.l, res, peak); err != nil {
		w.logger.Error("meter record of a direct call not stored", "function", c.j.fn, "invocation", c.j.id, "err", err)
	}
}

// late reports whether a synchronous caller's deadline passed before the job started.
func late(j job) bool { return !j.deadline.IsZero() && j.start.After(j.deadline) }

// beat tells a direct caller its call runs still: first after events.DirectFirstBeat, then every
// events.DirectBeat, until stopped.
func beat(nc *nats.Conn, inbox string) (stop func()) {
	return tick(events.DirectFirstBeat, events.DirectBeat, func() {
		_ = nc.PublishMsg(events.NewDirectWord(inbox, events.DirectRunning))
	})
}
