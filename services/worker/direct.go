package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// takeDirect subscribes to the direct path of p's function (events.DirectSubject): synchronous
// calls a gateway offers without storing them. Each runs on its own goroutine under runCtx,
// counted in inflight; the returned func unsubscribes.
func (w *Worker) takeDirect(runCtx context.Context, p *pool, inflight *sync.WaitGroup, log *slog.Logger) (stop func()) {
	sub, err := w.nc.QueueSubscribe(events.DirectSubject(p.fn), events.DirectQueue(p.fn), func(m *nats.Msg) {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			w.direct(runCtx, p, m)
		}()
	})
	if err != nil { // the calls take the durable path
		log.Warn("subscribe to direct calls", "err", err)
		return func() {}
	}
	return func() { _ = sub.Unsubscribe() }
}

// direct runs a synchronous call offered on the direct path when a free warm instance of its
// version is at hand here, under one of the slots the pool holds, so the function's max holds;
// otherwise it answers events.DirectBusy at once, and the gateway stores the event. The steps
// are the durable path's (parse, resolve, invoke, answer, vacate, report) without the stream:
// no delivery to acknowledge, and nothing recorded but the attempt's meter.
func (w *Worker) direct(ctx context.Context, p *pool, m *nats.Msg) {
	j := job{fn: p.fn, reply: m.Header.Get(events.HeaderReply), delivered: 1, attempt: 1, start: time.Now()}
	if j.reply == "" {
		return
	}
	busy := func() { _ = w.nc.PublishMsg(events.NewDirectWord(j.reply, events.DirectBusy)) }
	ev, err := parseEvent(&j, m.Header, m.Data)
	n := events.EventVersion(ev)
	if err != nil || n == 0 || w.draining.Load() || late(j) { // the durable path answers these
		busy()
		return
	}
	if ok, _, _ := p.tryAcquire(false); !ok {
		busy()
		return
	}
	release := sync.OnceFunc(p.release)
	defer release()
	x := p.takeWarm(n)
	if x == nil {
		busy()
		return
	}
	l := lease{in: w.instances, pool: p, x: x, kind: startWarm}
	v, err := w.fns.Version(ctx, j.fn, n)
	if err != nil {
		l.Release(true)
		busy()
		return
	}
	j.retries = v.Config.Retries
	stopBeat := beat(w.nc, j.reply)
	res := w.invoke(ctx, j, v, ev, l, nil)
	stopBeat()
	w.answer(&j, res)
	peak := w.vacate(j, v, l, res)
	release()
	if err := w.report(ctx, j, v, l, res, peak); err != nil {
		w.logger.Error("meter record of a direct call not stored", "function", j.fn, "invocation", j.id, "err", err)
	}
}

// late reports whether a synchronous caller's deadline passed before the job started.
func late(j job) bool { return !j.deadline.IsZero() && j.start.After(j.deadline) }

// beat tells a direct caller its call runs still: first after events.DirectFirstBeat, then every
// events.DirectBeat, until stopped.
func beat(nc *nats.Conn, inbox string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTimer(events.DirectFirstBeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = nc.PublishMsg(events.NewDirectWord(inbox, events.DirectRunning))
				t.Reset(events.DirectBeat)
			}
		}
	}()
	return sync.OnceFunc(func() { close(done) })
}
