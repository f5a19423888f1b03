package worker

import (
	"context"
	"errors"
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
	rt      *catalog.Catalog
	tel     Telemetry
	code    *codeCache
	results jetstream.KeyValue
	backoff func(int) time.Duration
	drain   time.Duration
	sandbox instance.Sandbox
	warm    *warmpool.Pool // nil when no runtime keeps pre-started processes
	logger  *slog.Logger

	claims   *claims
	beats    jetstream.KeyValue // sluice_workers
	claimTTL time.Duration
	host     string
	started  time.Time
	draining atomic.Bool

	held holding    // outcomes not written yet, for their redelivery
	dups duplicates // deliveries settled without a run, their outcome recorded already

	mu    sync.Mutex
	pools map[string]*running
	seq   int
}

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
		id: o.ID, nc: o.NC, js: o.JS, fns: o.Fns, rt: o.Runtimes, tel: o.Telemetry, results: results,
		code:    &codeCache{store: store, dir: o.CodeDir, limits: o.Limits},
		backoff: o.Backoff, drain: o.Drain, sandbox: o.Sandbox, logger: o.Logger.With("worker", o.ID),
		pools: map[string]*running{},
		beats: beats, claimTTL: st.TTL(), host: host, started: time.Now().UTC(),
	}
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
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, r := range w.pools {
		if _, ok := want[name]; !ok {
			r.cancel()
			go w.retire(r)
			delete(w.pools, name)
		}
	}
	for name, f := range want {
		v, err := w.fns.Version(ctx, name, f.Latest)
		if err != nil {
			w.logger.Warn("read function version", "function", name, "err", err)
			continue
		}
		if r, ok := w.pools[name]; ok {
			r.pool.configure(v)
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		r := &running{pool: newPool(v), cancel: cancel, done: make(chan struct{})}
		w.pools[name] = r
		go func() {
			defer close(r.done)
			w.serve(pctx, r.pool)
		}()
	}
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	rs := make([]*running, 0, len(w.pools))
	for name, r := range w.pools {
		r.cancel()
		rs = append(rs, r)
		delete(w.pools, name)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { w.retire(r) })
	}
	wg.Wait()
}

func (w *Worker) retire(r *running) {
	<-r.done
	for _, inst := range r.pool.drain() {
		w.stop(inst)
	}
	for _, key := range r.pool.takeSpares() {
		w.claims.release(key)
	}
}

// stop closes an instance no longer counted in its pool and gives back its slot.
func (w *Worker) stop(x *warm) {
	_ = x.inst.Close()
	w.claims.release(x.claim)
}

// serve pulls one function's events while ctx lives. On return every invocation it started has
// finished: running ones get up to the drain time, then their context is cancelled.
func (w *Worker) serve(ctx context.Context, p *pool) {
	log := w.logger.With("function", p.fn)
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	var inflight sync.WaitGroup
	defer func() {
		done := make(chan struct{})
		go func() { inflight.Wait(); close(done) }()
		t := time.NewTimer(w.drain)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			log.Warn("drain time over; stopping running invocations")
			cancelRuns()
			<-done
		}
	}()

	// The keeper reaps idle instances and starts the function's min ones; it ends before serve
	// returns, so retire sees every instance it started.
	keeper := make(chan struct{})
	defer func() { <-keeper }()
	go func() {
		defer close(keeper)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			w.provision(ctx, p)
			select {
			case <-ctx.Done():
				return
			case <-p.nudge:
			case now := <-tick.C:
				out, above := p.expired(now)
				for _, x := range out {
					w.stop(x)
				}
				w.settleAbove(ctx, p, above)
				for _, key := range p.unusedSpares(now, spareIdle) {
					w.claims.release(key)
				}
			}
		}
	}()

	for ctx.Err() == nil {
		cons, err := w.js.CreateOrUpdateConsumer(ctx, events.StreamInvoke, events.ConsumerConfig(p.fn))
		if err != nil {
			log.Warn("bind consumer", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		w.pull(ctx, runCtx, p, cons, &inflight, log)
	}
}

// pull takes events while this worker holds free instance slots for them, each run on its own
// goroutine under runCtx: as many as the slots take at once in one request when several are free
// and events wait, else one, waiting for it. It fetches only what it can start, so events it
// cannot take stay on the consumer for the instances of other workers.
func (w *Worker) pull(ctx, runCtx context.Context, p *pool, cons jetstream.Consumer, inflight *sync.WaitGroup, log *slog.Logger) {
	var lag uint64 // events waiting on the consumer, as last seen
	run := func(msg jetstream.Msg) {
		if meta, err := msg.Metadata(); err == nil {
			lag = meta.NumPending
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			release := sync.OnceFunc(p.release)
			defer release()
			w.handle(runCtx, p, msg, release)
		}()
	}
	for {
		if err := w.slot(ctx, p, cons, &lag); err != nil {
			return
		}
		if extra := min(p.free(), maxBatch-1); extra > 0 && lag > 0 {
			p.acquireN(extra)
			got := 0
			if batch, err := cons.FetchNoWait(1 + extra); err == nil {
				for msg := range batch.Messages() {
					got++
					run(msg)
				}
			}
			if got > 0 {
				p.releaseN(1 + extra - got)
				continue
			}
			p.releaseN(extra) // none waiting after all: wait for one
		}
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		msg, err := cons.Next(jetstream.FetchContext(fctx))
		cancel()
		if err != nil {
			p.release()
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
				continue
			case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrConsumerDeleted):
				log.Warn("next invocation", "err", err)
				return // bind the consumer again
			}
			log.Warn("next invocation", "err", err)
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		run(msg)
	}
}

// fetchWait bounds one pull request; an idle function renews it this often.
const fetchWait = 5 * time.Second

// maxBatch is the most events one pull request takes.
const maxBatch = 64

// lagPoll is how often a worker whose slots are all busy asks the consumer whether events wait.
const lagPoll = 100 * time.Millisecond

// slot waits until this worker may take one more event of the function: an instance slot it
// holds is free, or it wins one more slot (while events wait, the function is under its max and
// the instance fits the memory budget), or, holding none, it may probe.
func (w *Worker) slot(ctx context.Context, p *pool, cons jetstream.Consumer, lag *uint64) error {
	var polled time.Time
	t := time.NewTicker(lagPoll)
	defer t.Stop()
	for {
		mem := p.memory()
		fits := w.claims.fits(mem)
		ok, freed, canGrow := p.tryAcquire(fits || w.roomFor(p.fn, mem))
		if ok {
			return nil
		}
		if canGrow && fits && !w.draining.Load() && !p.growHeld() {
			if *lag == 0 && time.Since(polled) >= lagPoll {
				polled = time.Now()
				if info, err := cons.Info(ctx); err == nil {
					*lag = info.NumPending
				}
			}
			if *lag > 0 {
				if w.grow(ctx, p) {
					*lag--
					continue
				}
				*lag = 0
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		case <-t.C:
		}
	}
}

// grow claims one more instance slot for the function, as a spare until an event uses it.
func (w *Worker) grow(ctx context.Context, p *pool) bool {
	key, err := w.claims.take(ctx, p.fn, p.limit(), p.memory())
	if err != nil {
		if errors.Is(err, ErrNoSlot) {
			p.holdGrow() // every slot is held: asking again at once costs max claim attempts
		} else if !errors.Is(err, ErrNoMemory) && ctx.Err() == nil {
			w.logger.Warn("claim an instance slot", "function", p.fn, "err", err)
		}
		return false
	}
	p.addSpare(key)
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
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
	w.mu.Lock()
	r, ok := w.pools[function]
	w.mu.Unlock()
	if !ok {
		return 0
	}
	_, idle := r.pool.counts()
	return idle
}
