package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// ErrNotFound is returned for a function, version or alias that does not exist.
var ErrNotFound = errors.New("not found")

// Directory is the live view.
type Directory struct {
	kv      jetstream.KeyValue
	js      jetstream.JetStream
	logger  *slog.Logger
	watcher jetstream.KeyWatcher
	done    chan struct{}
	draw    func() float64 // uniform in [0, 1): picks an alias's weighted version; safe for concurrent use

	mu       sync.RWMutex
	heads    map[string]events.Function
	versions map[string]events.Version
	applied  uint64        // revision of the last entry applied
	changed  chan struct{} // closed and replaced on every change
}

// Open loads the current functions and keeps following the bucket until Close.
func Open(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) (*Directory, error) {
	kv, err := js.KeyValue(ctx, events.BucketFunctions)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("directory: watch: %w", err)
	}
	d := &Directory{
		kv: kv, js: js, logger: logger, watcher: w, done: make(chan struct{}), draw: rand.Float64,
		heads: map[string]events.Function{}, versions: map[string]events.Version{},
		changed: make(chan struct{}),
	}
	loaded := make(chan struct{})
	go d.follow(loaded)
	select {
	case <-loaded:
		return d, nil
	case <-ctx.Done():
		d.Close()
		return nil, ctx.Err()
	}
}

// Close stops following the bucket.
func (d *Directory) Close() {
	_ = d.watcher.Stop()
	<-d.done
}

func (d *Directory) follow(loaded chan struct{}) {
	defer close(d.done)
	for e := range d.watcher.Updates() {
		if e == nil {
			close(loaded)
			continue
		}
		d.apply(e)
	}
}

func (d *Directory) apply(e jetstream.KeyValueEntry) {
	key, deleted := e.Key(), e.Operation() != jetstream.KeyValuePut
	d.mu.Lock()
	defer d.mu.Unlock()
	defer func() {
		d.applied = max(d.applied, e.Revision())
		close(d.changed)
		d.changed = make(chan struct{})
	}()
	if events.IsVersionKey(key) {
		if deleted {
			delete(d.versions, key)
		} else {
			v, err := events.DecodeVersion(e.Value())
			if err != nil {
				d.logger.Error("directory: unreadable version record", "key", key, "err", err)
				return
			}
			d.versions[key] = v
		}
	} else if deleted {
		delete(d.heads, key)
	} else {
		f, err := events.DecodeFunction(e.Value())
		if err != nil {
			d.logger.Error("directory: unreadable function record", "key", key, "err", err)
			return
		}
		d.heads[key] = f
	}
}

// Sync waits until the view has applied every change written to the bucket before the call, so a
// caller reads its own writes: after a deploy, the new version is what "latest" resolves to.
func (d *Directory) Sync(ctx context.Context) error {
	st, err := d.js.Stream(ctx, "KV_"+events.BucketFunctions)
	if err != nil {
		return fmt.Errorf("directory: sync: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("directory: sync: %w", err)
	}
	for {
		d.mu.RLock()
		applied, changed := d.applied, d.changed
		d.mu.RUnlock()
		if applied >= info.State.LastSeq {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("directory: sync to revision %d (at %d): %w", info.State.LastSeq, applied, ctx.Err())
		}
	}
}

// Changed returns a channel that is closed at the next change of any function.
func (d *Directory) Changed() <-chan struct{} {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.changed
}

// Functions returns the head records of every deployed function.
func (d *Directory) Functions() []events.Function {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]events.Function, 0, len(d.heads))
	for _, f := range d.heads {
		out = append(out, f)
	}
	return out
}

// Resolve finds the version a qualifier names: "", "latest" or "$LATEST" the newest, a number
// that version, anything else an alias. A weighted alias picks its second version for its share
// of calls.
func (d *Directory) Resolve(ctx context.Context, name, qualifier string) (events.Version, error) {
	head, err := d.head(ctx, name)
	if err != nil {
		return events.Version{}, err
	}
	n := head.Latest
	switch {
	case qualifier == "" || qualifier == "latest" || qualifier == "$LATEST":
	case isDigits(qualifier):
		n, _ = strconv.Atoi(qualifier)
	default:
		a, ok := head.Aliases[qualifier]
		if !ok {
			return events.Version{}, fmt.Errorf("function %s has no alias %q: %w", name, qualifier, ErrNotFound)
		}
		n = a.Pick(d.draw())
	}
	return d.Version(ctx, name, n)
}

// Version returns one immutable version of a function.
func (d *Directory) Version(ctx context.Context, name string, n int) (events.Version, error) {
	key := events.VersionKey(name, n)
	d.mu.RLock()
	v, ok := d.versions[key]
	d.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := get(ctx, d.kv, key, events.DecodeVersion)
	if err != nil {
		return v, fmt.Errorf("function %s version %d: %w", name, n, err)
	}
	d.mu.Lock()
	d.versions[key] = v
	d.mu.Unlock()
	return v, nil
}

func (d *Directory) head(ctx context.Context, name string) (events.Function, error) {
	d.mu.RLock()
	f, ok := d.heads[name]
	d.mu.RUnlock()
	if ok {
		return f, nil
	}
	if err := events.ValidateName(name); err != nil {
		return f, fmt.Errorf("function %q: %w", name, ErrNotFound)
	}
	f, err := get(ctx, d.kv, events.FunctionKey(name), events.DecodeFunction)
	if err != nil {
		return f, fmt.Errorf("function %s: %w", name, err)
	}
	return f, nil
}

// get reads the record under key in kv with decode; ErrNotFound when there is none.
func get[T any](ctx context.Context, kv jetstream.KeyValue, key string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return zero, ErrNotFound
	}
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", key, err)
	}
	v, err := decode(e.Value())
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
