package worker

import (
	"context"
	"errors"
	"sync"
	"time"
)

// keep looks after the function's instances until ctx ends: it starts those the function's min
// or the scaler's desired count miss (at once when the decision changes), and every second
// stops the idle instances past their time, settles those above the desired count and gives
// back spare slots no event used.
func (s *instances) keep(ctx context.Context, p *pool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.provision(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-p.nudge:
		case now := <-tick.C:
			s.reap(ctx, p, now)
		}
	}
}

// reap stops the instances of p idle past their time, settles those above the scaler's desired
// count, and gives back the spare slots unused for spareIdle.
func (s *instances) reap(ctx context.Context, p *pool, now time.Time) {
	out, above := p.expired(now)
	for _, x := range out {
		s.stop(x)
	}
	s.settleAbove(ctx, p, above)
	for _, key := range p.unusedSpares(now, spareIdle) {
		s.claims.release(key)
	}
}

// retire stops every instance of a pool no event is served from any more, and gives back its
// spare slots.
func (s *instances) retire(p *pool) {
	for _, x := range p.drain() {
		s.stop(x)
	}
	for _, key := range p.takeSpares() {
		s.claims.release(key)
	}
}

// provisionRetry is how long provisioning of a function's min instances waits after a failed
// start.
const provisionRetry = 30 * time.Second

// provision starts instances of the latest version, each under a slot it claims, until the
// function's min are running (provisioned concurrency), or, when a scaler acts and events wait,
// until the function has the scaler's desired count over all workers (slots below it), or no
// slot is free: min counts per worker, bounded by max over all workers. The instances it starts
// take events while they start, and start in parallel. A failed start holds it back for
// provisionRetry.
func (s *instances) provision(ctx context.Context, p *pool) {
	v, n, limit := p.missing(time.Now())
	if n == 0 || s.draining.Load() {
		return
	}
	toward := limit < p.limit()
	var wg sync.WaitGroup
	defer wg.Wait()
	for range n {
		key, err := s.claims.take(ctx, p.fn, limit, v.Config.MemoryMB)
		if err != nil {
			if !errors.Is(err, ErrNoSlot) && !errors.Is(err, ErrNoMemory) && ctx.Err() == nil {
				s.logger.Warn("claim a slot for an instance", "function", p.fn, "err", err)
			}
			return // tried again on the next tick
		}
		x := p.starting(v.Version, key)
		wg.Go(func() {
			inst, kind, err := s.launcher.launch(ctx, v)
			if err != nil {
				p.notStarted(x, "", err)
				s.claims.release(key)
				if ctx.Err() == nil {
					s.logger.Warn("start an instance ahead of events", "function", p.fn, "version", v.Version, "retry_in", provisionRetry, "err", err)
					p.provisionFailed(time.Now(), provisionRetry)
				}
				return
			}
			s.logger.Debug("instance started ahead of events", "function", p.fn, "version", v.Version, "start", kind,
				"init", inst.InitDuration(), "toward_desired", toward)
			p.started(x, inst, kind, "")
		})
	}
}

// settleAbove handles idle instances under slots at or above the scaler's desired count: each
// moves to a slot below the count that no instance holds (slots are claimed first-free, so the
// ones held can be scattered), and stops when every slot below it is held: the function has its
// desired count without it.
func (s *instances) settleAbove(ctx context.Context, p *pool, above []*warm) {
	for _, x := range above {
		desired := p.desiredCount()
		if desired < 0 {
			return
		}
		if desired > 0 {
			key, err := s.claims.take(ctx, p.fn, min(desired, p.limit()), s.claims.memoryOf(x.claim))
			if err == nil {
				if old, ok := p.moveSlot(x, key); ok {
					s.claims.release(old)
				} else {
					s.claims.release(key)
				}
				continue
			}
			if !errors.Is(err, ErrNoSlot) {
				continue // no memory to move with, or the bus: try again on the next tick
			}
		}
		if p.removeIdle(x) {
			s.stop(x)
		}
	}
}
