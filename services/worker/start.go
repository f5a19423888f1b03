package worker

import (
	"context"
	"errors"
	"fmt"
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
func (w *Worker) launch(ctx context.Context, v events.Version) (*warm, startKind, error) {
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
		Sandbox: w.sandbox,
		Logs: func(l instance.Line) {
			w.tel.Log(events.LogLine{Time: l.Time, Function: v.Function, Version: v.Version, Instance: id,
				InvocationID: l.RequestID, Stream: l.Stream, Message: l.Text})
		},
	}
	if w.warm != nil && w.rt.Specializable(cfg.Runtime, cfg.Env) {
		if inst, ok := w.warm.Take(cfg.Runtime); ok {
			err := inst.Specialize(ctx, cfg)
			if err == nil {
				return &warm{inst: inst, version: v.Version}, startPrestarted, nil
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
	return &warm{inst: inst, version: v.Version}, startScratch, nil
}

// provision starts instances of the latest version, one at a time, each under a slot it claims,
// until the function's min are running (provisioned concurrency) or no slot is free: min counts
// per worker, bounded by max over all workers. A failed start holds it back for
// provisionRetry.
func (w *Worker) provision(ctx context.Context, p *pool) {
	for ctx.Err() == nil {
		v, n := p.missing(time.Now())
		if n == 0 {
			return
		}
		key, err := w.claims.take(ctx, p.fn, p.limit(), v.Config.MemoryMB)
		if err != nil {
			if !errors.Is(err, ErrNoSlot) && !errors.Is(err, ErrNoMemory) && ctx.Err() == nil {
				w.logger.Warn("claim a slot for a min instance", "function", p.fn, "err", err)
			}
			return // tried again on the next tick
		}
		x, kind, err := w.launch(ctx, v)
		if err != nil {
			w.claims.release(key)
			if ctx.Err() == nil {
				w.logger.Warn("start a min instance", "function", p.fn, "version", v.Version, "retry_in", provisionRetry, "err", err)
				p.provisionFailed(time.Now(), provisionRetry)
			}
			return
		}
		w.logger.Debug("min instance started", "function", p.fn, "version", v.Version, "start", kind,
			"init", x.inst.InitDuration())
		x.claim = key
		p.add(x)
	}
}
