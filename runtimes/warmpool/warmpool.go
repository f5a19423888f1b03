package warmpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
)

// ErrConfig reports unusable Options.
var ErrConfig = errors.New("invalid warm pool options")

// Retry delays after a failed pre-start of a runtime: the first, doubled on every failure up to
// the last.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 30 * time.Second
	sweepEvery = 5 * time.Second // how often waiting processes are checked for having died

	// DefaultRefillDelay lets a cold invocation finish before its process's replacement starts.
	DefaultRefillDelay = 20 * time.Millisecond
)

// Options configure a Pool.
type Options struct {
	Catalog *catalog.Catalog
	// Sizes is how many pre-started processes to keep per runtime id; a runtime not named (or
	// 0) gets none. Every named runtime must be one the catalog can pre-start.
	Sizes map[string]int
	// Dir is where the per-process slot folders are made; a new temporary folder, removed when
	// Run returns, when empty.
	Dir         string
	Sandbox     instance.Sandbox // confines the processes from their start; nil runs them directly
	InitTimeout time.Duration    // bounds one pre-start; instance.DefaultInitTimeout when zero
	// RefillDelay is how long a refill waits after a process was taken, so that starting its
	// replacement (an interpreter, a sandbox) does not compete for the CPU with the cold
	// invocation that took it. DefaultRefillDelay when zero.
	RefillDelay time.Duration
	Logger      *slog.Logger // nil discards
}

// Pool keeps pre-started processes per runtime.
type Pool struct {
	o    Options
	log  *slog.Logger
	ids  []string      // runtimes with a size, sorted
	wake chan struct{} // buffered 1: a process was taken

	mu      sync.Mutex
	ready   map[string][]*instance.Instance // oldest first
	stopped bool
	seq     int
	fails   map[string]int       // consecutive failed pre-starts per runtime
	retryAt map[string]time.Time // no pre-start of the runtime before
}

// New checks o and prepares a Pool; Run fills it.
func New(o Options) (*Pool, error) {
	if o.Catalog == nil {
		return nil, fmt.Errorf("%w: a catalog is required", ErrConfig)
	}
	p := &Pool{o: o, log: o.Logger, wake: make(chan struct{}, 1), ready: map[string][]*instance.Instance{},
		fails: map[string]int{}, retryAt: map[string]time.Time{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	for _, rt := range slices.Sorted(maps.Keys(o.Sizes)) {
		switch n := o.Sizes[rt]; {
		case n < 0:
			return nil, fmt.Errorf("%w: size %d for %s", ErrConfig, n, rt)
		case n == 0:
			continue
		}
		if !o.Catalog.Specializable(rt, nil) {
			if err := o.Catalog.Check(rt); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrConfig, err)
			}
			return nil, fmt.Errorf("%w: runtime %s cannot be pre-started", ErrConfig, rt)
		}
		p.ids = append(p.ids, rt)
	}
	return p, nil
}

// Take hands out a pre-started process of runtime, if one is waiting, and wakes the refill. The
// caller owns it: Specialize it, or Close it.
func (p *Pool) Take(runtime string) (*instance.Instance, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, false
	}
	for list := p.ready[runtime]; len(list) > 0; list = p.ready[runtime] {
		i := list[0]
		p.ready[runtime] = list[1:]
		p.signal()
		select {
		case <-i.Done():
			continue // died while waiting; Run's sweep logs such ends
		default:
			return i, true
		}
	}
	return nil, false
}

// Ready counts the processes of runtime waiting to be taken.
func (p *Pool) Ready(runtime string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready[runtime])
}

func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run fills the pool and keeps it filled until ctx ends, then closes every waiting process and
// returns nil once they are gone.
func (p *Pool) Run(ctx context.Context) error {
	dir, own := p.o.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "sluice-warm-")
		if err != nil {
			return fmt.Errorf("warm pool: %w", err)
		}
		dir, own = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("warm pool: %w", err)
	}
	defer func() {
		p.shutdown()
		if own {
			_ = os.RemoveAll(dir)
		}
	}()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		next := p.fill(ctx, dir)
		if !next.IsZero() {
			retry.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
			p.pause(ctx)
		case <-retry.C:
		case <-sweep.C:
			p.sweep()
		}
	}
}

// pause waits the refill delay (or until ctx ends).
func (p *Pool) pause(ctx context.Context) {
	d := p.o.RefillDelay
	if d <= 0 {
		d = DefaultRefillDelay
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// fill pre-starts processes, one at a time, until every runtime has its size or is waiting for
// a retry; it returns the earliest retry time (zero when none).
func (p *Pool) fill(ctx context.Context, dir string) time.Time {
	for ctx.Err() == nil {
		rt, next := p.wanted()
		if rt == "" {
			return next
		}
		i, err := p.prestart(ctx, dir, rt)
		p.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				p.fails[rt]++
				delay := min(retryFirst<<min(p.fails[rt]-1, 10), retryMax)
				p.retryAt[rt] = time.Now().Add(delay)
				p.log.Warn("pre-start failed", "runtime", rt, "retry_in", delay, "err", err)
			}
			p.mu.Unlock()
			continue
		}
		delete(p.fails, rt)
		if p.stopped {
			p.mu.Unlock()
			_ = i.Close()
			continue
		}
		p.ready[rt] = append(p.ready[rt], i)
		p.mu.Unlock()
	}
	return time.Time{}
}

// wanted picks the runtime missing the most processes and not waiting for a retry, one quick to
// start before one slow to start (catalog.StartsSlowly), so that a fresh worker has its Python
// and Node.js processes in a tenth of a second rather than after a JVM's and a Mono's starts;
// "" when none, with the earliest retry time.
func (p *Pool) wanted() (rt string, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now, best := time.Now(), 0
	for _, id := range p.ids {
		missing := p.o.Sizes[id] - len(p.ready[id])
		if missing <= 0 {
			continue
		}
		if at := p.retryAt[id]; now.Before(at) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		if missing > best || missing == best && p.o.Catalog.StartsSlowly(rt) && !p.o.Catalog.StartsSlowly(id) {
			rt, best = id, missing
		}
	}
	return rt, next
}

func (p *Pool) prestart(ctx context.Context, dir, rt string) (*instance.Instance, error) {
	p.mu.Lock()
	p.seq++
	id := "warm-" + rt + "-" + strconv.Itoa(p.seq)
	p.mu.Unlock()
	slot, err := os.MkdirTemp(dir, rt+"-")
	if err != nil {
		return nil, fmt.Errorf("slot folder: %w", err)
	}
	if err := os.Chmod(slot, 0o755); err != nil { // readable by a sandbox's unprivileged uid
		_ = os.RemoveAll(slot)
		return nil, fmt.Errorf("slot folder: %w", err)
	}
	i, err := instance.Prestart(ctx, p.o.Catalog, instance.PrestartConfig{
		ID: id, Runtime: rt, SlotDir: slot, Sandbox: p.o.Sandbox, InitTimeout: p.o.InitTimeout, Logger: p.o.Logger,
	})
	if err != nil {
		_ = os.RemoveAll(slot) // a started instance removes it itself; this one never started
		return nil, err
	}
	return i, nil
}

// sweep drops waiting processes that have died.
func (p *Pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for rt, list := range p.ready {
		keep := list[:0]
		for _, i := range list {
			select {
			case <-i.Done():
				p.log.Warn("a pre-started process ended while waiting", "runtime", rt)
				p.signal()
			default:
				keep = append(keep, i)
			}
		}
		p.ready[rt] = keep
	}
}

// shutdown closes every waiting process; Take answers false from then on.
func (p *Pool) shutdown() {
	p.mu.Lock()
	p.stopped = true
	var all []*instance.Instance
	for rt, list := range p.ready {
		all = append(all, list...)
		delete(p.ready, rt)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, i := range all {
		wg.Go(func() { _ = i.Close() })
	}
	wg.Wait()
}
