package manager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Bucket is what the manager needs of the sluice_triggers bucket; jetstream.KeyValue is one.
type Bucket interface {
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
}

// Options configure a Manager.
type Options struct {
	Owner  string // names this process in status records, e.g. host-pid
	Logger *slog.Logger
}

// Manager runs the adapters of the bucket's specs. Make it with New; Run it once.
type Manager struct {
	kv        Bucket
	pub       trigger.Publisher
	factories map[string]trigger.Factory
	owner     string
	log       *slog.Logger

	mu      sync.Mutex
	running map[string]*running // by trigger id
}

// running is one adapter and how to stop it.
type running struct {
	spec   []byte // the stored spec, to tell a change from a repeat
	cancel context.CancelFunc
	done   chan struct{} // closed once Run returned and the last status was written
}

// statusEvery bounds status writes of an adapter whose state did not change.
const statusEvery = 250 * time.Millisecond

// statusTimeout bounds one status write.
const statusTimeout = 5 * time.Second

// New makes a manager over the sluice_triggers bucket, publishing through pub.
func New(kv Bucket, pub trigger.Publisher, factories map[string]trigger.Factory, o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{kv: kv, pub: pub, factories: factories, owner: o.Owner, log: o.Logger, running: map[string]*running{}}
}

// Run follows the specs until ctx ends, then stops every adapter and returns nil. It returns an
// error only when the bucket cannot be watched.
func (m *Manager) Run(ctx context.Context) error {
	w, err := m.kv.Watch(ctx, events.TriggerKey(">"))
	if err != nil {
		return fmt.Errorf("triggers: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	defer m.stopAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("triggers: watch ended")
			}
			if e == nil {
				continue // the initial values are in
			}
			m.apply(ctx, e)
		}
	}
}

// Running returns the ids of the triggers with a running adapter.
func (m *Manager) Running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.running))
	for id := range m.running {
		ids = append(ids, id)
	}
	return ids
}

func (m *Manager) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	id := strings.TrimPrefix(e.Key(), events.TriggerKey(""))
	m.mu.Lock()
	old := m.running[id]
	m.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if old != nil {
			m.stop(id, old)
			// The adapter may have written its last status after the trigger was deleted.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTimeout)
			_ = m.kv.Delete(dctx, events.TriggerStatusKey(id))
			cancel()
			m.log.Info("trigger stopped", "trigger", id)
		}
		return
	}
	if old != nil && bytes.Equal(old.spec, e.Value()) {
		return
	}
	if old != nil {
		m.stop(id, old)
		m.log.Info("trigger changed: restarting", "trigger", id)
	}
	m.start(ctx, id, e.Value())
}

func (m *Manager) stop(id string, r *running) {
	r.cancel()
	<-r.done
	m.mu.Lock()
	if m.running[id] == r {
		delete(m.running, id)
	}
	m.mu.Unlock()
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	all := make(map[string]*running, len(m.running))
	for id, r := range m.running {
		all[id] = r
	}
	m.mu.Unlock()
	for id, r := range all {
		m.stop(id, r)
	}
}

// start runs the adapter of spec b in its own goroutine, owned by the returned record.
func (m *Manager) start(ctx context.Context, id string, b []byte) {
	actx, cancel := context.WithCancel(ctx)
	r := &running{spec: bytes.Clone(b), cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.running[id] = r
	m.mu.Unlock()
	st := newStatusWriter(m, id)
	go func() {
		defer close(r.done)
		defer st.close()
		st.report(events.TriggerStatus{State: events.StateStarting})
		if err := m.runOne(actx, id, b, st.report); err != nil {
			m.log.Error("trigger failed", "trigger", id, "err", err)
			st.report(events.TriggerStatus{State: events.StateFailed, LastError: err.Error()})
		}
	}()
}

// runOne makes and runs one adapter; an error means the trigger cannot run (reported failed).
func (m *Manager) runOne(ctx context.Context, id string, b []byte, report trigger.Reporter) (err error) {
	spec, err := events.DecodeTrigger(b)
	if err != nil {
		return fmt.Errorf("unreadable spec: %w", err)
	}
	if spec.ID == "" {
		spec.ID = id
	}
	// What the adapter reports, and the error logged and reported when it ends, never show the
	// spec's secrets.
	defer func() { err = spec.RedactError(err) }()
	next := report
	report = func(st events.TriggerStatus) {
		st.LastError = spec.RedactText(st.LastError)
		next(st)
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	f, ok := m.factories[spec.Kind]
	if !ok {
		return fmt.Errorf("%w: no adapter for kind %q in this process", events.ErrInvalidTrigger, spec.Kind)
	}
	a, err := f(spec)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("trigger adapter panicked", "trigger", id, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("adapter panicked: %v", p)
		}
	}()
	m.log.Info("trigger started", "trigger", id, "function", spec.Function, "kind", spec.Kind)
	if err := a.Run(ctx, m.pub, report); err != nil {
		return err
	}
	if ctx.Err() == nil {
		return errors.New("adapter stopped by itself")
	}
	return nil
}
