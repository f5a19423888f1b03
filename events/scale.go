package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ScaleDecision is the scaler's record for one function in sluice_scale, under ScaleKey: what
// the workers start instances toward, the API shows and the metrics report (docs/design.md §7).
type ScaleDecision struct {
	Function string    `json:"function"`
	Lag      int       `json:"lag"`     // pending + ack-pending on the function's consumer
	Desired  int       `json:"desired"` // instances the function should run on all workers together
	Reason   string    `json:"reason"`  // lag, active, min, max or idle
	Running  int       `json:"running"` // instances the live workers report, summed
	Busy     int       `json:"busy"`    // of which handling an invocation
	By       string    `json:"by"`      // the scaler that held the lease
	At       time.Time `json:"at"`
}

// EncodeScaleDecision is the JSON of d as stored in sluice_scale.
func EncodeScaleDecision(d ScaleDecision) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("scale decision for %s: %w", d.Function, err)
	}
	return b, nil
}

// DecodeScaleDecision reads a record of sluice_scale.
func DecodeScaleDecision(b []byte) (ScaleDecision, error) {
	return decodeJSON[ScaleDecision](b, "scale decision")
}

// ScaleKeyFunction returns the function a sluice_scale key is the decision of; ok is false for
// a key that is not ScaleKey's.
func ScaleKeyFunction(key string) (fn string, ok bool) {
	return strings.CutPrefix(key, ScaleKey(""))
}

// PutScaleDecision records d in the sluice_scale bucket kv under ScaleKey(d.Function).
func PutScaleDecision(ctx context.Context, kv jetstream.KeyValue, d ScaleDecision) error {
	b, err := EncodeScaleDecision(d)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, ScaleKey(d.Function), b); err != nil {
		return fmt.Errorf("record scale decision for %s: %w", d.Function, err)
	}
	return nil
}

// ReadScaleDecision returns the recorded decision for fn from the sluice_scale bucket kv, or the
// zero ScaleDecision and an error wrapping jetstream.ErrKeyNotFound when there is none yet.
func ReadScaleDecision(ctx context.Context, kv jetstream.KeyValue, fn string) (ScaleDecision, error) {
	e, err := kv.Get(ctx, ScaleKey(fn))
	if err != nil {
		return ScaleDecision{}, fmt.Errorf("decision for %s: %w", fn, err)
	}
	d, err := DecodeScaleDecision(e.Value())
	if err != nil {
		return ScaleDecision{}, fmt.Errorf("decision for %s: %w", fn, err)
	}
	return d, nil
}

// ScaleDecisionHistory returns the recorded decisions for fn in the sluice_scale bucket kv, the
// last ScaleHistory of them, oldest first; a decision without a time takes its record's. Deletes
// and records that do not decode are skipped. An error wraps jetstream.ErrKeyNotFound when fn
// has no decisions.
func ScaleDecisionHistory(ctx context.Context, kv jetstream.KeyValue, fn string) ([]ScaleDecision, error) {
	entries, err := kv.History(ctx, ScaleKey(fn))
	if err != nil {
		return nil, fmt.Errorf("decisions for %s: %w", fn, err)
	}
	var out []ScaleDecision
	for _, e := range entries {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		d, err := DecodeScaleDecision(e.Value())
		if err != nil {
			continue
		}
		if d.At.IsZero() {
			d.At = e.Created()
		}
		out = append(out, d)
	}
	return out, nil
}

// ScaleDecisions reads every function's decision from the sluice_scale bucket kv. A bucket that
// cannot be listed returns no decisions and the error; records that are gone since the listing
// are skipped, and those that do not decode (or name no function) are skipped and reported in
// the error beside the decisions read.
func ScaleDecisions(ctx context.Context, kv jetstream.KeyValue) ([]ScaleDecision, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scale decisions: %w", err)
	}
	defer func() { _ = keys.Stop() }()
	var out []ScaleDecision
	var bad []error
	for k := range keys.Keys() {
		if _, ok := ScaleKeyFunction(k); !ok {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // deleted since listed
		}
		d, err := DecodeScaleDecision(e.Value())
		if err == nil && d.Function == "" {
			err = errors.New("scale decision: no function")
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("key %s: %w", k, err))
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(bad...)
}

// ConsumerLag is a function's demand: the events waiting on its consumer (ConsumerName in
// SLUICE_INVOKE) plus those delivered and not yet acknowledged.
func ConsumerLag(ctx context.Context, js jetstream.JetStream, fn string) (int, error) {
	c, err := js.Consumer(ctx, StreamInvoke, ConsumerName(fn))
	if err != nil {
		return 0, fmt.Errorf("consumer of %s: %w", fn, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer of %s: %w", fn, err)
	}
	return int(ci.NumPending) + ci.NumAckPending, nil
}
