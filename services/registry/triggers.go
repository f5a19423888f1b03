package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

// triggerID is the form of trigger ids: a KV key token.
var triggerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// ValidateTriggerID checks the form of a trigger id.
func ValidateTriggerID(id string) error {
	if !triggerID.MatchString(id) {
		return fmt.Errorf("%w: trigger id %q: use 1 to 100 lower-case letters, digits and dashes", ErrInvalid, id)
	}
	return nil
}

// PutTrigger stores a trigger spec whose function exists; the adapters follow it. It reports
// whether the id was new (false: the spec replaced an older one, whose adapter restarts).
func (r *Registry) PutTrigger(ctx context.Context, t events.Trigger) (created bool, err error) {
	if err := ValidateTriggerID(t.ID); err != nil {
		return false, err
	}
	if _, err := r.Function(ctx, t.Function); err != nil {
		return false, err
	}
	t.Created = r.now().UTC()
	b, err := events.EncodeTrigger(t)
	if err != nil {
		return false, err
	}
	if _, err := r.trig.Create(ctx, events.TriggerKey(t.ID), b); err == nil {
		return true, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	old, err := r.Trigger(ctx, t.ID)
	if err != nil {
		return false, err
	}
	t.Created = old.Created
	if b, err = events.EncodeTrigger(t); err != nil {
		return false, err
	}
	if _, err := r.trig.Put(ctx, events.TriggerKey(t.ID), b); err != nil {
		return false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	return false, nil
}

// Trigger returns one trigger spec as stored, secrets included: for adapters and for keeping the
// secrets of a replaced spec, never to be shown (see ViewTrigger).
func (r *Registry) Trigger(ctx context.Context, id string) (events.Trigger, error) {
	e, err := r.trig.Get(ctx, events.TriggerKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return events.Trigger{}, fmt.Errorf("no trigger %q: %w", id, ErrTriggerNotFound)
	}
	if err != nil {
		return events.Trigger{}, fmt.Errorf("trigger %s: %w", id, err)
	}
	t, err := events.DecodeTrigger(e.Value())
	if err != nil {
		return events.Trigger{}, fmt.Errorf("trigger %s: %w", id, err)
	}
	return t, nil
}

// ViewTrigger returns one trigger as it may be shown, with its status.
func (r *Registry) ViewTrigger(ctx context.Context, id string) (wire.TriggerView, error) {
	t, err := r.Trigger(ctx, id)
	if err != nil {
		return wire.TriggerView{}, err
	}
	return r.view(ctx, t), nil
}

// view is t as it may be shown, with its status.
func (r *Registry) view(ctx context.Context, t events.Trigger) wire.TriggerView {
	v := wire.TriggerView{Trigger: t.Redacted()}
	if e, err := r.trig.Get(ctx, events.TriggerStatusKey(t.ID)); err == nil {
		if st, err := events.DecodeTriggerStatus(e.Value()); err == nil {
			st.LastError = t.RedactText(st.LastError)
			v.Status = &st
		}
	}
	return v
}

// Triggers returns the triggers of function (every trigger when ""), by function then id, as
// they may be shown, with their status.
func (r *Registry) Triggers(ctx context.Context, function string) ([]wire.TriggerView, error) {
	keys, err := r.triggerKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []wire.TriggerView{}
	for _, k := range keys {
		id, ok := strings.CutPrefix(k, events.TriggerKey(""))
		if !ok {
			continue
		}
		t, err := r.Trigger(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		if function != "" && t.Function != function {
			continue
		}
		out = append(out, r.view(ctx, t))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Trigger, out[j].Trigger
		return a.Function < b.Function || a.Function == b.Function && a.ID < b.ID
	})
	return out, nil
}

// DeleteTrigger removes a trigger: its spec (its adapters stop), its status, and every key
// "<word>.<id>" an adapter kept for it (such as cron.<id>).
func (r *Registry) DeleteTrigger(ctx context.Context, id string) error {
	if _, err := r.Trigger(ctx, id); err != nil {
		return err
	}
	keys, err := r.triggerKeys(ctx)
	if err != nil {
		return err
	}
	return r.purgeTrigger(ctx, id, keys)
}

func (r *Registry) purgeTrigger(ctx context.Context, id string, keys []string) error {
	if err := r.trig.Purge(ctx, events.TriggerKey(id)); err != nil {
		return fmt.Errorf("delete trigger %s: %w", id, err)
	}
	for _, k := range keys {
		word, rest, ok := strings.Cut(k, ".")
		if !ok || rest != id || word+"."+id == events.TriggerKey(id) {
			continue
		}
		if err := r.trig.Purge(ctx, k); err != nil {
			return fmt.Errorf("delete trigger %s: %s: %w", id, k, err)
		}
	}
	return nil
}

// deleteTriggersOf removes every trigger of a function.
func (r *Registry) deleteTriggersOf(ctx context.Context, function string) error {
	views, err := r.Triggers(ctx, function)
	if err != nil {
		return err
	}
	if len(views) == 0 {
		return nil
	}
	keys, err := r.triggerKeys(ctx)
	if err != nil {
		return err
	}
	for _, v := range views {
		if err := r.purgeTrigger(ctx, v.Trigger.ID, keys); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) triggerKeys(ctx context.Context) ([]string, error) {
	l, err := r.trig.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}
