package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// startKind says how an invocation got its instance.
type startKind int

const (
	startWarm       startKind = iota // an idle instance of the version was reused
	startPrestarted                  // a pre-started process was specialised (cold, no interpreter start)
	startScratch                     // a process was started for the function (cold)
)

func (k startKind) String() string {
	switch k {
	case startWarm:
		return "warm"
	case startPrestarted:
		return "pre-started"
	}
	return "scratch"
}

// provisionRetry is how long provisioning of a function's min instances waits after a failed
// start.
const provisionRetry = 30 * time.Second

// launch gives a new instance of v: a pre-started process of its runtime specialised for it when
// the warm pool has one and the function's variables allow it, else a process started for it.
func (w *Worker) launch(ctx context.Context, v events.Version) (*instance.Instance, startKind, error) {
	dir, err := w.code.Dir(ctx, v.Code)
	if err != nil {
		return nil, startScratch, fmt.Errorf("%w: %w", instance.ErrInit, err)
	}
	w.mu.Lock()
	w.seq++
	id := fmt.Sprintf("%s-%d", w.id, w.seq)
	w.mu.Unlock()
	cfg := instance.Config{
		ID: id, Function: v.Function, Version: v.Version, Runtime: v.Config.Runtime, Handler: v.Config.Handler,
		CodeDir: dir, MemoryMB: v.Config.MemoryMB, Timeout: v.Config.Timeout.D(), Env: v.Config.Env,
		Concurrency: v.Config.Concurrency,
		Sandbox:     w.sandbox,
		Logs: func(l instance.Line) {
			w.tel.Log(events.LogLine{Time: l.Time, Function: v.Function, Version: v.Version, Instance: id,
				InvocationID: l.RequestID, Stream: l.Stream, Message: l.Text})
		},
	}
	if w.warm != nil && w.rt.Specializable(cfg.Runtime, cfg.Env) {
		if inst, ok := w.warm.Take(cfg.Runtime); ok {
			err := inst.Specialize(ctx, cfg)
			if err == nil {
				return inst, startPrestarted, nil
			}
			_ = inst.Close()
			if _, ok := errors.AsType[*instance.Failure](err); ok {
				return nil, startPrestarted, err // the function's own init failure: a new process fails alike
			}
			w.logger.Warn("specialise a pre-started process; starting one for the function instead",
				"function", v.Function, "err", err)
		}
	}
	inst, err := instance.Start(ctx, w.rt, cfg)
	if err != nil {
		return nil, startScratch, err
	}
	return inst, startScratch, nil
}

// provision starts instances of the latest version, each under a slot it claims, until the
// function's min are running (provisioned concurrency), or, when a scaler acts and events wait,
// until the function has the scaler's desired count over all workers (slots below it), or no
// slot is free: min counts per worker, bounded by max over all workers. The instances it starts
// take events while they start, and start in parallel. A failed start holds it back for
// provisionRetry.
func (w *Worker) provision(ctx context.Context, p *pool) {
	v, n, limit := p.missing(time.Now())
	if n == 0 || w.draining.Load() {
		return
	}
	toward := limit < p.limit()
	var wg sync.WaitGroup
	defer wg.Wait()
	for range n {
		key, err := w.claims.take(ctx, p.fn, limit, v.Config.MemoryMB)
		if err != nil {
			if !errors.Is(err, ErrNoSlot) && !errors.Is(err, ErrNoMemory) && ctx.Err() == nil {
				w.logger.Warn("claim a slot for an instance", "function", p.fn, "err", err)
			}
			return // tried again on the next tick
		}
		x := p.starting(v.Version, key)
		wg.Go(func() {
			inst, kind, err := w.launch(ctx, v)
			if err != nil {
				p.notStarted(x, "", err)
				w.claims.release(key)
				if ctx.Err() == nil {
					w.logger.Warn("start an instance ahead of events", "function", p.fn, "version", v.Version, "retry_in", provisionRetry, "err", err)
					p.provisionFailed(time.Now(), provisionRetry)
				}
				return
			}
			w.logger.Debug("instance started ahead of events", "function", p.fn, "version", v.Version, "start", kind,
				"init", inst.InitDuration(), "toward_desired", toward)
			p.started(x, inst, kind, "")
		})
	}
}

// settleAbove handles idle instances under slots at or above the scaler's desired count: each
// moves to a slot below the count that no instance holds (slots are claimed first-free, so the
// ones held can be scattered), and stops when every slot below it is held: the function has its
// desired count without it.
func (w *Worker) settleAbove(ctx context.Context, p *pool, above []*warm) {
	for _, x := range above {
		desired := p.desiredCount()
		if desired < 0 {
			return
		}
		if desired > 0 {
			key, err := w.claims.take(ctx, p.fn, min(desired, p.limit()), w.claims.memoryOf(x.claim))
			if err == nil {
				if old, ok := p.moveSlot(x, key); ok {
					w.claims.release(old)
				} else {
					w.claims.release(key)
				}
				continue
			}
			if !errors.Is(err, ErrNoSlot) {
				continue // no memory to move with, or the bus: try again on the next tick
			}
		}
		if p.removeIdle(x) {
			w.stop(x)
		}
	}
}
