package worker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// leaseCheck is how often the worker asks whether a scaler holds the lease; without one, the
// decisions in sluice_scale are stale and the worker scales on its own (idle timeouts, lag).
const leaseCheck = time.Second

// followScaler hands the scaler's decisions to the pools until ctx ends: each function's desired
// count and whether events wait with fewer instances running, as long as a scaler holds the
// lease; -1 when none does.
func (w *Worker) followScaler(ctx context.Context) {
	scale, err := w.js.KeyValue(ctx, events.BucketScale)
	if err != nil {
		if ctx.Err() == nil {
			w.logger.Warn("follow the scaler: bucket", "err", err)
		}
		return
	}
	decisions := map[string]events.ScaleDecision{}
	acting := w.scalerActs(ctx)
	tick := time.NewTicker(leaseCheck)
	defer tick.Stop()
	for ctx.Err() == nil {
		watcher, err := scale.Watch(ctx, events.ScaleKey("*"))
		if err != nil {
			if ctx.Err() == nil {
				w.logger.Warn("follow the scaler: watch", "err", err)
			}
			sleep(ctx, leaseCheck)
			continue
		}
		for updates := watcher.Updates(); updates != nil; {
			select {
			case <-ctx.Done():
				_ = watcher.Stop()
				return
			case e, ok := <-updates:
				if !ok {
					updates = nil // the watch ended: start another
					break
				}
				if e == nil {
					continue // the current values are all in
				}
				fn, _ := events.ScaleKeyFunction(e.Key())
				d, err := events.DecodeScaleDecision(e.Value())
				if e.Operation() != jetstream.KeyValuePut || err != nil {
					delete(decisions, fn)
				} else {
					decisions[fn] = d
				}
				w.applyDecision(fn, decisions, acting)
			case <-tick.C:
				acting = w.scalerActs(ctx)
				for _, fn := range w.instances.served() {
					w.applyDecision(fn, decisions, acting)
				}
			}
		}
		_ = watcher.Stop()
	}
}

// scalerActs reports whether a scaler holds the lease.
func (w *Worker) scalerActs(ctx context.Context) bool {
	_, err := w.claims.kv.Get(ctx, events.ScalerLeaseKey)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
		w.logger.Debug("read the scaler lease", "err", err)
	}
	return err == nil
}

// applyDecision hands fn's pool the scaler's decision for it, or -1 when no scaler acts or it
// has made none.
func (w *Worker) applyDecision(fn string, decisions map[string]events.ScaleDecision, acting bool) {
	p, ok := w.instances.pool(fn)
	if !ok {
		return
	}
	d, known := decisions[fn]
	if !acting || !known {
		p.setDesired(-1, false)
		return
	}
	// Starting ahead of events is for while events wait and the workers run fewer than desired:
	// at the desired count, or at max with a backlog, there is no slot to claim.
	p.setDesired(d.Desired, d.Lag > 0 && d.Running < d.Desired)
}
