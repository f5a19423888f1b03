package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// serve pulls one function's events while ctx lives. On return every invocation it started has
// finished: running ones get up to the drain time, then their context is cancelled.
func (w *Worker) serve(ctx context.Context, p *pool) {
	log := w.logger.With("function", p.fn)
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	work := newRunners(runnerIdle)
	defer work.stop() // after the drain below
	var inflight sync.WaitGroup
	defer func() {
		done := make(chan struct{})
		go func() { inflight.Wait(); p.calls.wait(); close(done) }()
		t := time.NewTimer(w.drain)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			log.Warn("drain time over; stopping running invocations")
			cancelRuns()
			<-done
		}
	}()

	// The keeper looks after the function's instances; it ends before serve returns, so retire
	// sees every instance it started.
	keeper := make(chan struct{})
	defer func() { <-keeper }()
	go func() { defer close(keeper); w.instances.keep(ctx, p) }()
	// Synchronous calls straight from gateways, while the function is served here; no more
	// are taken once serve returns, before the drain above waits for those running.
	defer w.takeDirect(runCtx, p, log)()

	for ctx.Err() == nil {
		cons, err := w.js.CreateOrUpdateConsumer(ctx, events.StreamInvoke, events.ConsumerConfig(p.fn))
		if err != nil {
			log.Warn("bind consumer", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		pl, err := newPuller(w.nc, events.StreamInvoke, events.ConsumerName(p.fn))
		if err != nil {
			log.Warn("bind consumer", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		w.pull(ctx, runCtx, p, cons, pl, work, &inflight, log)
		pl.close()
	}
}

// pull takes events while this worker holds free instance slots for them, each run by work under
// runCtx: as many as the slots take at once in one request when several are free
// and events wait, else one, waiting for it. It fetches only what it can start, so events it
// cannot take stay on the consumer for the instances of other workers; the one exception is an
// event that comes while a direct call took the free slot, which waits here for the next.
func (w *Worker) pull(ctx, runCtx context.Context, p *pool, cons jetstream.Consumer, pl *puller, work *runners, inflight *sync.WaitGroup, log *slog.Logger) {
	var lag backlog
	run := func(msg jetstream.Msg) {
		if meta, err := msg.Metadata(); err == nil {
			lag = backlog{n: meta.NumPending, at: time.Now()}
		}
		inflight.Add(1)
		work.run(func() {
			defer inflight.Done()
			release := sync.OnceFunc(p.release)
			defer release()
			w.handle(runCtx, p, msg, release)
		})
	}
	for {
		if err := w.slot(ctx, p, cons, &lag); err != nil {
			return
		}
		if extra := min(p.free(), maxBatch-1); extra > 0 && lag.n > 0 {
			p.acquireN(extra)
			batch, _ := pl.fetch(ctx, 1+extra, 0)
			got := len(batch)
			for _, msg := range batch {
				run(msg)
			}
			if got > 0 {
				p.releaseN(1 + extra - got)
				continue
			}
			p.releaseN(extra) // none waiting after all: wait for one
		}
		// Waiting for an event holds no room: a direct call may take the instance meanwhile
		// (direct.go), and an event that comes then waits here for room, kept ours by progress
		// ticks, rather than starting beyond the slots held.
		p.release()
		var msg jetstream.Msg
		got, err := pl.fetch(ctx, 1, fetchWait)
		if len(got) > 0 {
			msg, err = got[0], nil
		}
		if err == nil && msg == nil {
			err = nats.ErrTimeout
		}
		if err == nil {
			if err := w.roomFor(ctx, p, cons, msg, &lag); err != nil {
				_ = msg.Nak() // stopping: another worker takes it
				return
			}
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
				continue
			case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrConsumerDeleted):
				log.Warn("next invocation", "err", err)
				return // bind the consumer again
			}
			log.Warn("next invocation", "err", err)
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		run(msg)
	}
}

// roomFor takes room for a delivered event: at once when it is free (as it is unless a direct
// call took it), else waiting for it, with the event kept ours by progress ticks and direct
// calls yielding the next free room to it.
func (w *Worker) roomFor(ctx context.Context, p *pool, cons jetstream.Consumer, msg jetstream.Msg, lag *backlog) error {
	if ok, _, _ := w.instances.admit(p); ok {
		return nil
	}
	ticks, waiting := progress(msg, events.AckWait/3), p.awaitRoom()
	defer ticks()
	defer waiting()
	return w.slot(ctx, p, cons, lag)
}

// fetchWait bounds one pull request; an idle function renews it this often.
const fetchWait = 5 * time.Second

// maxBatch is the most events one pull request takes.
const maxBatch = 64

// lagPoll is how often a worker whose slots are all busy asks the consumer whether events wait.
const lagPoll = 100 * time.Millisecond

// backlog is how many events were waiting on the consumer when the worker last learned it (from
// a delivery's metadata, or by asking the consumer), and when that was. A delivery's count is as
// good as an answer of the consumer's: asking again at once would only cost the delivery its
// start, queued behind the request (150–250 µs of a cold start).
type backlog struct {
	n  uint64
	at time.Time
}

// slot waits until this worker may take one more event of the function: an instance slot it
// holds is free, or it wins one more slot (while events wait, the function is under its max and
// the instance fits the memory budget), or, holding none, it may probe.
func (w *Worker) slot(ctx context.Context, p *pool, cons jetstream.Consumer, lag *backlog) error {
	t := time.NewTicker(lagPoll)
	defer t.Stop()
	for {
		ok, freed, canGrow := w.instances.admit(p)
		if ok {
			return nil
		}
		if canGrow {
			if lag.n == 0 && time.Since(lag.at) >= lagPoll {
				lag.at = time.Now()
				if info, err := cons.Info(ctx); err == nil {
					lag.n = info.NumPending
				}
			}
			if lag.n > 0 {
				if w.instances.grow(ctx, p) {
					lag.n--
					continue
				}
				lag.n = 0
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		case <-t.C:
		}
	}
}

// admit takes room in p for one more event when the slots held allow it, or the probe when p
// holds none and an instance would fit the memory budget (once idle instances of other
// functions made room). Otherwise it returns a channel closed when something frees, and whether
// the caller may claim one more slot for waiting events (p is under its max, an instance fits
// the budget as it is, the worker is not draining, and claiming is not on hold).
func (s *instances) admit(p *pool) (ok bool, freed <-chan struct{}, canGrow bool) {
	mem := p.memory()
	fits := s.claims.fits(mem)
	ok, freed, canGrow = p.tryAcquire(fits || s.roomFor(p.fn, mem))
	return ok, freed, canGrow && fits && !s.draining.Load() && !p.growHeld()
}

// admitCall takes room in p for a call in the gateway's process as admit would for a delivered
// event (a slot held with room, or the probe), but only when no delivered event waits for room
// here.
func (s *instances) admitCall(p *pool) bool {
	mem := p.memory()
	return p.tryAcquireDirect(s.claims.fits(mem) || s.roomFor(p.fn, mem))
}

// grow claims one more instance slot for the function, as a spare until an event uses it.
func (s *instances) grow(ctx context.Context, p *pool) bool {
	key, err := s.claims.take(ctx, p.fn, p.limit(), p.memory())
	if err != nil {
		if errors.Is(err, ErrNoSlot) {
			p.holdGrow() // every slot is held: asking again at once costs max claim attempts
		} else if !errors.Is(err, ErrNoMemory) && ctx.Err() == nil {
			s.logger.Warn("claim an instance slot", "function", p.fn, "err", err)
		}
		return false
	}
	p.addSpare(key)
	return true
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
