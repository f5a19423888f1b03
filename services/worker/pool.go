package worker

import (
	"context"
	"sync"
	"time"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// warm is an instance with the version it runs.
type warm struct {
	inst         *instance.Instance
	version      int
	lastUsed     time.Time
	forksRefused uint64 // as last reported in the function's logs
}

// pool holds one function's instances on this worker and bounds how many invocations run at once.
type pool struct {
	fn string

	mu      sync.Mutex
	max     int
	min     int            // instances of latest kept running, never reaped below
	latest  events.Version // the newest version, what min instances run
	idle    time.Duration
	retryAt time.Time     // no provisioning before, after a failed start
	busy    int           // slots acquired: invocations running or about to
	inUse   int           // instances handed out by take or started for an invocation, not yet back
	freed   chan struct{} // closed and replaced whenever a slot frees
	warm    []*warm       // idle instances, most recently used last
}

func newPool(v events.Version) *pool {
	p := &pool{fn: v.Function, freed: make(chan struct{})}
	p.configure(v)
	return p
}

// configure applies the latest version's scaling settings; running invocations are not touched.
func (p *pool) configure(v events.Version) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg := v.Config
	if v.Version != p.latest.Version {
		p.retryAt = time.Time{}
	}
	p.latest = v
	p.max = max(cfg.Max*max(cfg.Concurrency, 1), 1)
	p.min = min(max(cfg.Min, 0), p.max)
	p.idle = cfg.IdleTimeout.D()
	if p.idle <= 0 {
		p.idle = events.DefaultIdleTimeout
	}
	p.signal()
}

// acquire waits for a free slot.
func (p *pool) acquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.busy < p.max {
			p.busy++
			p.mu.Unlock()
			return nil
		}
		ch := p.freed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *pool) release() {
	p.mu.Lock()
	p.busy--
	p.signal()
	p.mu.Unlock()
}

func (p *pool) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// take returns an idle instance of version, if any, and — when starting a new instance would
// exceed max — an idle instance of another version to stop first.
func (p *pool) take(version int) (hit *warm, evict *warm) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.warm) - 1; i >= 0; i-- {
		if p.warm[i].version == version {
			hit = p.warm[i]
			p.warm = append(p.warm[:i], p.warm[i+1:]...)
			p.inUse++
			return hit, nil
		}
	}
	if len(p.warm)+p.busy > p.max && len(p.warm) > 0 {
		evict, p.warm = p.warm[0], p.warm[1:]
	}
	return nil, evict
}

// started counts an instance started for an invocation as in use.
func (p *pool) started() {
	p.mu.Lock()
	p.inUse++
	p.mu.Unlock()
}

// put returns a live instance in use for reuse.
func (p *pool) put(w *warm) {
	w.lastUsed = time.Now()
	p.mu.Lock()
	p.inUse--
	p.warm = append(p.warm, w)
	p.mu.Unlock()
}

// drop forgets an instance in use that was closed.
func (p *pool) drop() {
	p.mu.Lock()
	p.inUse--
	p.mu.Unlock()
}

// add makes a new instance (never in use) idle.
func (p *pool) add(w *warm) {
	w.lastUsed = time.Now()
	p.mu.Lock()
	p.warm = append(p.warm, w)
	p.mu.Unlock()
}

// expired removes and returns the idle instances unused for longer than the idle timeout, and
// those whose process has ended. The min most recently used instances of the latest version
// (counting those in use) are never expired.
func (p *pool) expired(now time.Time) []*warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*warm
	keep := make([]bool, len(p.warm))
	kept := p.inUse
	for i := len(p.warm) - 1; i >= 0; i-- {
		w := p.warm[i]
		select {
		case <-w.inst.Done():
			out = append(out, w)
			continue
		default:
		}
		switch {
		case w.version == p.latest.Version && kept < p.min:
			kept++
			keep[i] = true
		case now.Sub(w.lastUsed) > p.idle:
			out = append(out, w)
		default:
			keep[i] = true
		}
	}
	live := p.warm[:0]
	for i, w := range p.warm {
		if keep[i] {
			live = append(live, w)
		}
	}
	p.warm = live
	return out
}

// missing reports the version min instances run and how many more instances of it min needs
// (instances in use count); 0 while a failed start waits for its retry time.
func (p *pool) missing(now time.Time) (events.Version, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.retryAt) {
		return p.latest, 0
	}
	n := p.min - p.inUse
	for _, w := range p.warm {
		if w.version == p.latest.Version {
			n--
		}
	}
	return p.latest, max(n, 0)
}

// provisionFailed holds provisioning back for a while after a failed start.
func (p *pool) provisionFailed(now time.Time, wait time.Duration) {
	p.mu.Lock()
	p.retryAt = now.Add(wait)
	p.mu.Unlock()
}

// drain removes and returns every idle instance.
func (p *pool) drain() []*warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.warm
	p.warm = nil
	return out
}

// counts reports busy slots and idle instances.
func (p *pool) counts() (busy, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy, len(p.warm)
}
