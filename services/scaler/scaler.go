// Package scaler turns each function's consumer lag into a desired number of instances and
// records it, with the reason, in the sluice_scale bucket (DESIGN §7): desired =
// clamp(ceil(lag / concurrency), min, max); up at once, down only once the function has been
// idle for its idle timeout.
package scaler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Decision is the scaler's record for one function in sluice_scale.
type Decision struct {
	Function string    `json:"function"`
	Lag      int       `json:"lag"`
	Desired  int       `json:"desired"`
	Reason   string    `json:"reason"` // lag, min, max or idle
	At       time.Time `json:"at"`
}

// Desired computes the instances a function needs for its lag. previous is the last decision,
// idleFor how long the function has had no lag.
func Desired(lag int, cfg events.Config, previous int, idleFor time.Duration) (int, string) {
	conc := max(cfg.Concurrency, 1)
	want := (lag + conc - 1) / conc
	reason := "lag"
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

// Scaler writes decisions on a tick.
type Scaler struct {
	js     jetstream.JetStream
	fns    Functions
	kv     jetstream.KeyValue
	every  time.Duration
	logger *slog.Logger

	last     map[string]Decision
	lastBusy map[string]time.Time
}

// New prepares a scaler that decides every interval.
func New(ctx context.Context, js jetstream.JetStream, fns Functions, every time.Duration, logger *slog.Logger) (*Scaler, error) {
	kv, err := js.KeyValue(ctx, events.BucketScale)
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	return &Scaler{js: js, fns: fns, kv: kv, every: every, logger: logger,
		last: map[string]Decision{}, lastBusy: map[string]time.Time{}}, nil
}

// Run decides on every tick until ctx is cancelled.
func (s *Scaler) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.Tick(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick makes one decision per function and records the ones that changed.
func (s *Scaler) Tick(ctx context.Context, now time.Time) {
	for _, f := range s.fns.Functions() {
		v, err := s.fns.Version(ctx, f.Name, f.Latest)
		if err != nil {
			continue
		}
		info, err := s.js.Consumer(ctx, events.StreamInvoke, events.ConsumerName(f.Name))
		if err != nil {
			continue
		}
		ci, err := info.Info(ctx)
		if err != nil {
			continue
		}
		lag := int(ci.NumPending) + ci.NumAckPending
		if lag > 0 || s.lastBusy[f.Name].IsZero() {
			s.lastBusy[f.Name] = now
		}
		prev := s.last[f.Name]
		want, reason := Desired(lag, v.Config, prev.Desired, now.Sub(s.lastBusy[f.Name]))
		d := Decision{Function: f.Name, Lag: lag, Desired: want, Reason: reason, At: now.UTC()}
		if d.Desired == prev.Desired && d.Lag == prev.Lag && d.Reason == prev.Reason {
			continue
		}
		s.last[f.Name] = d
		b, _ := json.Marshal(d) // plain data
		if _, err := s.kv.Put(ctx, f.Name, b); err != nil {
			s.logger.Warn("scaler: record decision", "function", f.Name, "err", err)
		}
	}
}
