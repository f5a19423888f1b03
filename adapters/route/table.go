package route

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Watcher watches keys of the sluice_triggers bucket (a jetstream.KeyValue).
type Watcher interface {
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Table is the live set of HTTP routes, following the sluice_triggers bucket. Safe for
// concurrent use.
type Table struct {
	w      jetstream.KeyWatcher
	done   chan struct{}
	logger *slog.Logger

	mu     sync.RWMutex
	routes map[string]Route // by trigger id
}

// Open loads the routes of triggers (the sluice_triggers bucket) and keeps following it until
// Close. A spec that does not compile is logged and not served. logger may be nil.
func Open(ctx context.Context, triggers Watcher, logger *slog.Logger) (*Table, error) {
	w, err := triggers.Watch(context.WithoutCancel(ctx), events.TriggerKey(">"))
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Table{w: w, done: make(chan struct{}), logger: logger, routes: map[string]Route{}}
	loaded := make(chan struct{})
	go t.follow(loaded)
	select {
	case <-loaded:
		return t, nil
	case <-ctx.Done():
		t.Close()
		return nil, ctx.Err()
	}
}

// Close stops following the bucket.
func (t *Table) Close() {
	_ = t.w.Stop()
	<-t.done
}

func (t *Table) follow(loaded chan struct{}) {
	defer close(t.done)
	once := sync.OnceFunc(func() { close(loaded) })
	defer once()
	for e := range t.w.Updates() {
		if e == nil {
			once()
			continue
		}
		id := strings.TrimPrefix(e.Key(), events.TriggerKey(""))
		spec, ok := httpSpec(e)
		var r Route
		if ok {
			var err error
			if r, err = Compile(spec); err != nil {
				t.logger.Warn("http route not served", "trigger", id, "err", err)
				ok = false
			}
		}
		t.mu.Lock()
		if ok {
			t.routes[id] = r
		} else {
			delete(t.routes, id)
		}
		t.mu.Unlock()
	}
}

// httpSpec returns the spec an update of sluice_triggers puts, when it is a readable spec of an
// HTTP route.
func httpSpec(e jetstream.KeyValueEntry) (events.Trigger, bool) {
	if e.Operation() != jetstream.KeyValuePut {
		return events.Trigger{}, false
	}
	spec, err := events.DecodeTrigger(e.Value())
	return spec, err == nil && spec.Kind == events.TriggerHTTP
}

// Find returns the routes whose path matches path (the request's escaped path below the
// gateway's prefix), best first (most literal segments, then the smaller trigger id), with
// their parameters.
func (t *Table) Find(path string) []Match {
	t.mu.RLock()
	var found []Route
	for _, r := range t.routes {
		if _, ok := r.match(path); ok {
			found = append(found, r)
		}
	}
	t.mu.RUnlock()
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
