package scaler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// same reports whether two decisions for a function say the same: recording d again would tell
// nothing new.
func same(d, o events.ScaleDecision) bool {
	return d.Lag == o.Lag && d.Desired == o.Desired && d.Reason == o.Reason && d.Running == o.Running && d.Busy == o.Busy
}

// Desired computes the instances a function needs for its lag and the instances the workers
// report as lately active: invocations that never wait on the consumer (synchronous calls, or
// events taken at once by a free instance) show no lag, but keep their instances busy now and
// then. previous is the last decision, idleFor how long the function has had neither.
func Desired(lag, active int, cfg events.Config, previous int, idleFor time.Duration) (int, string) {
	conc := max(cfg.Concurrency, 1)
	want := (lag + conc - 1) / conc
	reason := "lag"
	if active > want {
		want, reason = active, "active"
	}
	if want > cfg.Max {
		want, reason = cfg.Max, "max"
	}
	if want < previous && idleFor < cfg.IdleTimeout.D() { // scale down only after the idle window
		want, reason = previous, "idle"
	}
	if want < cfg.Min {
		want, reason = cfg.Min, "min"
	}
	return want, reason
}

// Functions is the scaler's view of what is deployed.
type Functions interface {
	Functions() []events.Function
	Version(ctx context.Context, name string, n int) (events.Version, error)
}

// Options configure a scaler. JS and Fns are required.
type Options struct {
	JS     jetstream.JetStream
	Fns    Functions
	ID     string        // holder written into the lease; defaults to "scaler"
	Every  time.Duration // tick; defaults to 1 s
	Logger *slog.Logger
}

// Scaler decides on a tick while it holds the scaler lease in sluice_claims; without it, it stays
// passive and tries to take it again on every tick. Tick itself is not safe for concurrent use;
// Run owns it.
type Scaler struct {
	js      jetstream.JetStream
	fns     Functions
	scale   jetstream.KeyValue
	workers jetstream.KeyValue
	lease   lease
	every   time.Duration
	logger  *slog.Logger

	last     map[string]events.ScaleDecision
	lastBusy map[string]time.Time
}

// New prepares a scaler over the bus's sluice_scale, sluice_workers and sluice_claims buckets.
func New(ctx context.Context, o Options) (*Scaler, error) {
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.ID == "" {
		o.ID = "scaler"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	buckets := map[string]*jetstream.KeyValue{}
	var scale, workers, claims jetstream.KeyValue
	buckets[events.BucketScale], buckets[events.BucketWorkers], buckets[events.BucketClaims] = &scale, &workers, &claims
	for name, kv := range buckets {
		b, err := o.JS.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("scaler: bucket %s: %w", name, err)
		}
		*kv = b
	}
	return &Scaler{js: o.JS, fns: o.Fns, scale: scale, workers: workers,
		lease: lease{kv: claims, key: events.ScalerLeaseKey, holder: o.ID},
		every: o.Every, logger: o.Logger,
		last: map[string]events.ScaleDecision{}, lastBusy: map[string]time.Time{}}, nil
}

// Run takes the lease when it can, decides on every tick while it holds it, refreshes it every
// third of the claims bucket's TTL, and gives it up when ctx is cancelled. It returns nil then.
func (s *Scaler) Run(ctx context.Context) error {
	st, err := s.lease.kv.Status(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it began
		}
		return fmt.Errorf("scaler: claims bucket: %w", err)
	}
	refreshEvery := max(st.TTL()/3, 10*time.Millisecond)
	if st.TTL() <= 0 {
		refreshEvery = 3 * time.Second
	}
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	refresh := time.NewTicker(refreshEvery)
	defer refresh.Stop()
	defer func() {
		if err := s.lease.release(ctx); err != nil {
			s.logger.Warn("scaler: give up lease", "err", err)
		}
	}()
	for act := true; ; {
		if act {
			s.actOnce(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			act = false
			if s.lease.held() {
				if err := s.lease.refresh(ctx); err != nil && ctx.Err() == nil {
					s.logger.Warn("scaler: lease lost, passive", "err", err)
				}
			}
		case <-tick.C:
			act = true
		}
	}
}

// actOnce takes the lease if it is free and decides if the scaler holds it.
func (s *Scaler) actOnce(ctx context.Context) {
	if !s.lease.held() {
		ok, err := s.lease.take(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.Warn("scaler: take lease", "err", err)
		case ok:
			s.logger.Info("scaler: lease taken, acting", "holder", s.lease.holder)
			s.last, s.lastBusy = map[string]events.ScaleDecision{}, map[string]time.Time{}
		}
	}
	if s.lease.held() {
		s.Tick(ctx, time.Now())
	}
}

// Tick makes one decision per function and records the ones that changed.
func (s *Scaler) Tick(ctx context.Context, now time.Time) {
	running, busy, active, err := events.RunningInstances(ctx, s.workers)
	if err != nil {
		s.logger.Warn("scaler: read worker heartbeats", "err", err)
	}
	for _, f := range s.fns.Functions() {
		v, err := s.fns.Version(ctx, f.Name, f.Latest)
		if err != nil {
			continue
		}
		lag, err := events.ConsumerLag(ctx, s.js, f.Name)
		if err != nil {
			s.logger.Debug("scaler: read lag", "function", f.Name, "err", err)
			continue
		}
		act := sum(active[f.Name])
		if lag > 0 || act > 0 || s.lastBusy[f.Name].IsZero() {
			s.lastBusy[f.Name] = now
		}
		prev, ok := s.last[f.Name]
		if !ok { // after a takeover, scale down from what the previous holder decided
			prev, _ = events.ReadScaleDecision(ctx, s.scale, f.Name)
		}
		want, reason := Desired(lag, act, v.Config, prev.Desired, now.Sub(s.lastBusy[f.Name]))
		d := events.ScaleDecision{Function: f.Name, Lag: lag, Desired: want, Reason: reason,
			Running: sum(running[f.Name]), Busy: sum(busy[f.Name]), By: s.lease.holder, At: now.UTC()}
		if ok && same(d, prev) {
			continue
		}
		s.last[f.Name] = d
		if err := events.PutScaleDecision(ctx, s.scale, d); err != nil {
			s.logger.Warn("scaler: record decision", "function", f.Name, "err", err)
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
