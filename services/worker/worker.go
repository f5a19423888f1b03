package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
	"sluice.dev/runtimes/warmpool"
	"sluice.dev/services/archive"
)

// Functions is the worker's view of what is deployed.
type Functions interface {
	Functions() []events.Function
	Changed() <-chan struct{}
	Version(ctx context.Context, name string, n int) (events.Version, error)
	Resolve(ctx context.Context, name, qualifier string) (events.Version, error)
}

// Telemetry receives log lines and meter records. Log must not block. Meter returns once the
// record is stored on the bus (msgID its Nats-Msg-Id), or with an error once ctx ended: an
// event is acknowledged only after the meter record of its attempt is stored.
type Telemetry interface {
	Log(events.LogLine)
	Meter(ctx context.Context, m events.Meter, msgID string) error
}

// Options wire a Worker.
type Options struct {
	ID        string // names this worker in logs and instance ids
	NC        *nats.Conn
	JS        jetstream.JetStream
	Fns       Functions
	Runtimes  *catalog.Catalog
	Telemetry Telemetry
	CodeDir   string // where code packages are unpacked
	Limits    archive.Limits
	Backoff   func(attempt int) time.Duration // default Backoff
	Drain     time.Duration                   // how long a graceful stop waits for running invocations; default 30s
	// Prestart is how many pre-started generic processes to keep per runtime id, so that a
	// function's first instance here skips the interpreter start. nil means DefaultPrestart for
	// every runtime the catalog can pre-start; an empty map keeps none.
	Prestart map[string]int
	// Sandbox confines every instance (and pre-started process); nil runs them directly.
	Sandbox instance.Sandbox
	// MemoryBudgetMB bounds the sum of the memory settings of this worker's instances; an
	// instance that would exceed it is not started here, its events stay for other workers.
	// 0 means DefaultMemoryBudgetMB.
	MemoryBudgetMB int
	Logger         *slog.Logger
}

// DefaultPrestart is the number of pre-started processes kept per runtime when
// Options.Prestart is nil.
const DefaultPrestart = 1

// Worker pulls and runs invocations of every deployed function.
type Worker struct {
	id      string
	nc      *nats.Conn
	js      jetstream.JetStream
	fns     Functions
	taps    logTaps // invocations whose callers asked for the tail of their log
	rt      *catalog.Catalog
	tel     Telemetry
	backoff func(int) time.Duration
	drain   time.Duration
	warm    *warmpool.Pool // nil when no runtime keeps pre-started processes; run by Run
	logger  *slog.Logger

	instances *instances         // where an invocation gets its instance
	claims    *claims            // the instance slots held, shared with instances
	beats     jetstream.KeyValue // sluice_workers
	queue     jetstream.Stream   // SLUICE_INVOKE, where an ordered event looks for its turn
	claimTTL  time.Duration
	host      string
	started   time.Time
	draining  atomic.Bool

	records *records // what is known of async events: records, held outcomes, duplicates

	// serving holds the functions served and the goroutines pulling their events; only Run's
	// goroutine uses it (their pools are in instances, for everyone else).
	serving map[string]*running
}

// running is a function served: its pool and the goroutine pulling its events.
type running struct {
	pool   *pool
	cancel context.CancelFunc
	done   chan struct{}
}

// New prepares a worker; Run starts it.
func New(ctx context.Context, o Options) (*Worker, error) {
	results, err := o.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	store, err := o.JS.ObjectStore(ctx, events.ObjectCode)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	claimsKV, err := o.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	beats, err := o.JS.KeyValue(ctx, events.BucketWorkers)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	invoke, err := o.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	st, err := claimsKV.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	budget := o.MemoryBudgetMB
	if budget <= 0 {
		budget = DefaultMemoryBudgetMB()
	}
	host, _ := os.Hostname()
	w := &Worker{
		id: o.ID, nc: o.NC, js: o.JS, fns: o.Fns, rt: o.Runtimes, tel: o.Telemetry,
		backoff: o.Backoff, drain: o.Drain, logger: o.Logger.With("worker", o.ID),
		beats: beats, queue: invoke, claimTTL: st.TTL(), host: host, started: time.Now().UTC(),
		serving: map[string]*running{},
	}
	w.records = &records{results: results, logger: w.logger}
	w.claims = &claims{kv: claimsKV, id: o.ID, budget: budget, logger: w.logger, held: map[string]claim{}}
	sizes := o.Prestart
	if sizes == nil {
		sizes = map[string]int{}
		for _, rt := range o.Runtimes.IDs() {
			if o.Runtimes.Specializable(rt, nil) {
				sizes[rt] = DefaultPrestart
			}
		}
	}
	if len(sizes) > 0 {
		slots := "" // a temporary folder
		if o.CodeDir != "" {
			slots = filepath.Join(o.CodeDir, ".warm") // beside the code cache, so code is hard-linked
		}
		w.warm, err = warmpool.New(warmpool.Options{
			Catalog: o.Runtimes, Sizes: sizes, Dir: slots, Sandbox: o.Sandbox,
			Logger: w.logger,
		})
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	w.instances = &instances{
		claims: w.claims, draining: &w.draining, logger: w.logger,
		launcher: &launcher{
			worker: o.ID, code: &codeCache{store: store, dir: o.CodeDir, limits: o.Limits},
			rt: o.Runtimes, sandbox: o.Sandbox, warm: w.warm, tel: o.Telemetry, taps: &w.taps, logger: w.logger,
		},
	}
	if w.backoff == nil {
		w.backoff = Backoff
	}
	if w.drain <= 0 {
		w.drain = 30 * time.Second
	}
	if o.Sandbox == nil {
		w.logger.Warn("no sandbox: instances run as plain processes of this worker's user, without namespaces or cgroup limits")
	}
	return w, nil
}

// Run serves until ctx is cancelled, then stops pulling, lets running invocations finish (up to
// the drain time) and stops every instance. Meanwhile it beats in sluice_workers and keeps its
// instance slots; a graceful stop beats draining, then gives back every slot and removes its
// heartbeat.
func (w *Worker) Run(ctx context.Context) error {
	kctx, stopKeepalive := context.WithCancel(context.WithoutCancel(ctx))
	kdone := make(chan struct{})
	go func() { defer close(kdone); w.keepalive(kctx) }()
	defer func() {
		stopKeepalive()
		<-kdone
		w.claims.releaseAll()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := w.beats.Delete(dctx, w.id); err != nil {
			w.logger.Debug("remove heartbeat", "err", err)
		}
	}()
	fctx, stopFollowing := context.WithCancel(ctx)
	fdone := make(chan struct{})
	go func() { defer close(fdone); w.followScaler(fctx) }()
	defer func() { stopFollowing(); <-fdone }()
	if w.warm != nil {
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := w.warm.Run(wctx); err != nil {
				w.logger.Warn("warm pool stopped", "err", err)
			}
		}()
		defer func() { stop(); <-done }()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		changed := w.fns.Changed()
		w.reconcile(ctx)
		select {
		case <-ctx.Done():
			w.draining.Store(true)
			w.beat(context.WithoutCancel(ctx), true)
			w.stopAll()
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}

// reconcile starts a puller for every deployed function and stops those of deleted ones.
func (w *Worker) reconcile(ctx context.Context) {
	want := map[string]events.Function{}
	for _, f := range w.fns.Functions() {
		want[f.Name] = f
	}
	for name, r := range w.serving {
		if _, ok := want[name]; !ok {
			r.cancel()
			w.instances.remove(name)
			go w.retire(r)
			delete(w.serving, name)
		}
	}
	for name, f := range want {
		v, err := w.fns.Version(ctx, name, f.Latest)
		if err != nil {
			w.logger.Warn("read function version", "function", name, "err", err)
			continue
		}
		if r, ok := w.serving[name]; ok {
			r.pool.configure(v)
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		r := &running{pool: newPool(v), cancel: cancel, done: make(chan struct{})}
		w.serving[name] = r
		w.instances.add(r.pool)
		go func() {
			defer close(r.done)
			w.serve(pctx, r.pool)
		}()
	}
}

// stopAll stops serving every function and retires their instances.
func (w *Worker) stopAll() {
	rs := make([]*running, 0, len(w.serving))
	for name, r := range w.serving {
		r.cancel()
		w.instances.remove(name)
		rs = append(rs, r)
		delete(w.serving, name)
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { w.retire(r) })
	}
	wg.Wait()
}

// retire waits until a function is no longer served, then stops its instances.
func (w *Worker) retire(r *running) {
	<-r.done
	w.instances.retire(r.pool)
}

// Prestarted counts the pre-started processes of runtime waiting on this worker.
func (w *Worker) Prestarted(runtime string) int {
	if w.warm == nil {
		return 0
	}
	return w.warm.Ready(runtime)
}

// Idle counts the idle instances of a function on this worker.
func (w *Worker) Idle(function string) int {
	p, ok := w.instances.pool(function)
	if !ok {
		return 0
	}
	_, idle := p.counts()
	return idle
}
