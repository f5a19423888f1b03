package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Watcher watches keys of the sluice_triggers bucket (a jetstream.KeyValue).
type Watcher interface {
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Table is the live set of one kind's triggers, for the kinds that a process serves itself
// instead of an adapter (HTTP routes, CloudEvents subscriptions): each spec compiled into T,
// following the sluice_triggers bucket. Safe for concurrent use.
type Table[T any] struct {
	w      jetstream.KeyWatcher
	done   chan struct{}
	logger *slog.Logger

	mu    sync.RWMutex
	specs map[string]T // by trigger id
}

// OpenTable loads the specs of kind from triggers (the sluice_triggers bucket), compiled by
// compile, and keeps following the bucket until Close. A spec that does not compile is logged
// and left out. logger may be nil.
func OpenTable[T any](ctx context.Context, triggers Watcher, kind string, compile func(events.Trigger) (T, error), logger *slog.Logger) (*Table[T], error) {
	w, err := triggers.Watch(context.WithoutCancel(ctx), events.TriggerKey(">"))
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Table[T]{w: w, done: make(chan struct{}), logger: logger, specs: map[string]T{}}
	loaded := make(chan struct{})
	go t.follow(loaded, kind, compile)
	select {
	case <-loaded:
		return t, nil
	case <-ctx.Done():
		t.Close()
		return nil, ctx.Err()
	}
}

// Close stops following the bucket.
func (t *Table[T]) Close() {
	_ = t.w.Stop()
	<-t.done
}

func (t *Table[T]) follow(loaded chan struct{}, kind string, compile func(events.Trigger) (T, error)) {
	defer close(t.done)
	once := sync.OnceFunc(func() { close(loaded) })
	defer once()
	for e := range t.w.Updates() {
		if e == nil {
			once()
			continue
		}
		id := strings.TrimPrefix(e.Key(), events.TriggerKey(""))
		var v T
		ok := false
		if e.Operation() == jetstream.KeyValuePut {
			if spec, err := events.DecodeTrigger(e.Value()); err == nil && spec.Kind == kind {
				if v, err = compile(spec); err != nil {
					t.logger.Warn(kind+" trigger not served", "trigger", id, "err", err)
				} else {
					ok = true
				}
			}
		}
		t.mu.Lock()
		if ok {
			t.specs[id] = v
		} else {
			delete(t.specs, id)
		}
		t.mu.Unlock()
	}
}

// All returns the compiled specs, by trigger id: a copy, the table's as it is now.
func (t *Table[T]) All() map[string]T {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.specs)
}

// Served is the trigger.Adapter of a kind a process serves itself: it publishes nothing and
// reports the trigger as running until ctx ends.
type Served struct{}

// Run reports the trigger as running until ctx ends.
func (Served) Run(ctx context.Context, _ Publisher, report Reporter) error {
	report(events.TriggerStatus{State: events.StateRunning})
	<-ctx.Done()
	return nil
}
