package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// StateKey is the sluice_triggers key of a storage trigger's watermark.
func StateKey(id string) string { return "state." + id }

// state is where a trigger's listing stands.
type state struct {
	Floor     time.Time `json:"floor"`     // nothing modified at or before it is an event
	Watermark time.Time `json:"watermark"` // latest modification published from a listing
	Recent    seenIDs   `json:"recent"`    // ids published, with their modification time

	dirty bool // changed since it was last saved
}

// loadState reads the trigger's state, or starts one at floor.
func loadState(ctx context.Context, kv jetstream.KeyValue, id string, floor time.Time) (state, error) {
	e, err := kv.Get(ctx, StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return state{Floor: floor, Watermark: floor, Recent: seenIDs{}}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read state of trigger %s: %w", id, err)
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return state{}, fmt.Errorf("state of trigger %s: %w", id, err)
	}
	if s.Recent == nil {
		s.Recent = seenIDs{}
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
	s.dirty = false
	return nil
}

// seen records a published id; a listed object also moves the watermark.
func (s *state) seen(id string, mod time.Time, fromListing bool) {
	s.Recent[id] = mod
	s.dirty = true
	if fromListing && mod.After(s.Watermark) {
		s.Watermark = mod
	}
}

// repeats reports whether o is an upload already published: its id is known, with a time
// within the invocation stream's duplicate window of o's. A live notification of an object a
// listing published already is one (the bus would drop it; a late one it would not); the same
// content uploaded again later is not.
func (s *state) repeats(o object) bool {
	t, ok := s.Recent[o.id()]
	return ok && o.time.Sub(t).Abs() < events.InvokeDuplicateWindow
}

// prune forgets, after a listing, the ids older than the next listing looks back, and the
// oldest beyond limit; the bus's duplicate window is then the only guard against a listing
// publishing those again.
func (s *state) prune(slack time.Duration, limit int) {
	horizon := s.Watermark.Add(-slack)
	for id, t := range s.Recent {
		if t.Before(horizon) {
			delete(s.Recent, id)
			s.dirty = true
		}
	}
	if len(s.Recent) <= limit {
		return
	}
	type entry struct {
		id string
		t  time.Time
	}
	all := make([]entry, 0, len(s.Recent))
	for id, t := range s.Recent {
		all = append(all, entry{id, t})
	}
	slices.SortFunc(all, func(x, y entry) int { return x.t.Compare(y.t) })
	for _, e := range all[:len(all)-limit] {
		delete(s.Recent, e.id)
	}
	s.dirty = true
}

// due reports whether a listed object modified at mod with id still has to be published.
func (s *state) due(id string, mod time.Time, slack time.Duration) bool {
	if !mod.After(s.Floor) || !mod.After(s.Watermark.Add(-slack)) {
		return false
	}
	_, done := s.Recent[id]
	return !done
}

// seenIDs are published ids with their objects' modification times. They are saved as Unix
// milliseconds, about half the size of RFC 3339 times, so 10,000 fit in one bus message; times
// in RFC 3339, as older states hold them, are read too.
type seenIDs map[string]time.Time

func (s seenIDs) MarshalJSON() ([]byte, error) {
	ms := make(map[string]int64, len(s))
	for id, t := range s {
		ms[id] = t.UnixMilli()
	}
	return json.Marshal(ms)
}

func (s *seenIDs) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = make(seenIDs, len(raw))
	for id, v := range raw {
		var ms int64
		if json.Unmarshal(v, &ms) == nil {
			(*s)[id] = time.UnixMilli(ms)
			continue
		}
		var t time.Time
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("seen id %s: %w", id, err)
		}
		(*s)[id] = t
	}
	return nil
}
