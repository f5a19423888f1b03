package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxRecent bounds the ids a state remembers; beyond it the bus's duplicate window is the only
// guard against a listing publishing an object again.
const maxRecent = 20000

// StateKey is the sluice_triggers key of a storage trigger's watermark.
func StateKey(id string) string { return "state." + id }

// state is where a trigger's listing stands.
type state struct {
	Floor     time.Time            `json:"floor"`     // nothing modified at or before it is an event
	Watermark time.Time            `json:"watermark"` // latest modification published from a listing
	Recent    map[string]time.Time `json:"recent"`    // ids published, with their modification time
}

// loadState reads the trigger's state, or starts one at floor.
func loadState(ctx context.Context, kv jetstream.KeyValue, id string, floor time.Time) (state, error) {
	e, err := kv.Get(ctx, StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return state{Floor: floor, Watermark: floor, Recent: map[string]time.Time{}}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read state of trigger %s: %w", id, err)
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return state{}, fmt.Errorf("state of trigger %s: %w", id, err)
	}
	if s.Recent == nil {
		s.Recent = map[string]time.Time{}
	}
	return s, nil
}

func (s *state) save(ctx context.Context, kv jetstream.KeyValue, id string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode state of trigger %s: %w", id, err)
	}
	if _, err := kv.Put(ctx, StateKey(id), b); err != nil {
		return fmt.Errorf("write state of trigger %s: %w", id, err)
	}
	return nil
}

// seen records a published id; a listed object also moves the watermark.
func (s *state) seen(id string, mod time.Time, fromListing bool) {
	s.Recent[id] = mod
	if fromListing && mod.After(s.Watermark) {
		s.Watermark = mod
	}
}

// prune forgets ids older than the listing looks back, and the oldest beyond maxRecent.
func (s *state) prune(slack time.Duration) {
	horizon := s.Watermark.Add(-slack)
	for id, t := range s.Recent {
		if t.Before(horizon) {
			delete(s.Recent, id)
		}
	}
	for len(s.Recent) > maxRecent {
		var oldID string
		var old time.Time
		for id, t := range s.Recent {
			if oldID == "" || t.Before(old) {
				oldID, old = id, t
			}
		}
		delete(s.Recent, oldID)
	}
}

// due reports whether a listed object modified at mod with id still has to be published.
func (s *state) due(id string, mod time.Time, slack time.Duration) bool {
	if !mod.After(s.Floor) || !mod.After(s.Watermark.Add(-slack)) {
		return false
	}
	_, done := s.Recent[id]
	return !done
}
