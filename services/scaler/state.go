package scaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Lag is a function's demand: the events waiting on its consumer plus those delivered and not yet
// acknowledged.
func Lag(ctx context.Context, js jetstream.JetStream, fn string) (int, error) {
	c, err := js.Consumer(ctx, events.StreamInvoke, events.ConsumerName(fn))
	if err != nil {
		return 0, fmt.Errorf("consumer of %s: %w", fn, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer of %s: %w", fn, err)
	}
	return int(ci.NumPending) + ci.NumAckPending, nil
}

// ReadDecision returns the recorded decision for fn, or the zero Decision and an error wrapping
// jetstream.ErrKeyNotFound when there is none yet.
func ReadDecision(ctx context.Context, scale jetstream.KeyValue, fn string) (Decision, error) {
	e, err := scale.Get(ctx, events.ScaleKey(fn))
	if err != nil {
		return Decision{}, fmt.Errorf("decision for %s: %w", fn, err)
	}
	var d Decision
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return Decision{}, fmt.Errorf("decision for %s: %w", fn, err)
	}
	return d, nil
}

// Workers returns the heartbeats of the live workers in sluice_workers; the bucket's TTL has
// already removed those that stopped beating. A record that does not decode is skipped.
func Workers(ctx context.Context, kv jetstream.KeyValue) ([]events.WorkerBeat, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	defer keys.Stop()
	var out []events.WorkerBeat
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between the listing and the read
		}
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", k, err)
		}
		var b events.WorkerBeat
		if json.Unmarshal(e.Value(), &b) != nil {
			continue
		}
		if b.ID == "" {
			b.ID = k
		}
		out = append(out, b)
	}
	return out, nil
}

// Running returns, per function, the instances, the busy instances and the lately active
// instances each live worker reports, by worker id.
func Running(ctx context.Context, kv jetstream.KeyValue) (running, busy, active map[string]map[string]int, err error) {
	beats, err := Workers(ctx, kv)
	running, busy, active = map[string]map[string]int{}, map[string]map[string]int{}, map[string]map[string]int{}
	for _, b := range beats {
		for fn, n := range b.Active {
			if active[fn] == nil {
				active[fn] = map[string]int{}
			}
			active[fn][b.ID] = n
		}
		for fn, n := range b.Instances {
			if running[fn] == nil {
				running[fn] = map[string]int{}
			}
			running[fn][b.ID] = n
		}
		for fn, n := range b.Busy {
			if busy[fn] == nil {
				busy[fn] = map[string]int{}
			}
			busy[fn][b.ID] = n
		}
	}
	return running, busy, active, err
}
