package route

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Table is the live set of HTTP routes, following the sluice_triggers bucket. Safe for
// concurrent use.
type Table struct{ t *trigger.Table[Route] }

// Open loads the routes of triggers (the sluice_triggers bucket) and keeps following it until
// Close. A spec that does not compile is logged and not served. logger may be nil.
func Open(ctx context.Context, triggers trigger.Watcher, logger *slog.Logger) (*Table, error) {
	t, err := trigger.OpenTable(ctx, triggers, events.TriggerHTTP, Compile, logger)
	if err != nil {
		return nil, err
	}
	return &Table{t: t}, nil
}

// Close stops following the bucket.
func (t *Table) Close() { t.t.Close() }

// Find returns the routes whose path matches path (the request's escaped path below the
// gateway's prefix), best first (most literal segments, then the smaller trigger id), with
// their parameters.
func (t *Table) Find(path string) []Match {
	var found []Route
	for _, r := range t.t.All() {
		if _, ok := r.match(path); ok {
			found = append(found, r)
		}
	}
	slices.SortFunc(found, func(a, b Route) int {
		if d := b.literals() - a.literals(); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	matches := make([]Match, len(found))
	for i, r := range found {
		matches[i].Route = r
		matches[i].Params, _ = r.match(path)
	}
	return matches
}
