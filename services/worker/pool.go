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
	inst     *instance.Instance
	version  int
	lastUsed time.Time
}

// pool holds one function's instances on this worker and bounds how many invocations run at once.
type pool struct {
	fn string

	mu    sync.Mutex
	max   int
	idle  time.Duration
	busy  int
	freed chan struct{} // closed and replaced whenever a slot frees
	warm  []*warm       // idle instances, most recently used last
}

func newPool(fn string, cfg events.Config) *pool {
	p := &pool{fn: fn, freed: make(chan struct{})}
	p.configure(cfg)
	return p
}

// configure applies the latest version's scaling settings; running invocations are not touched.
func (p *pool) configure(cfg events.Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max(cfg.Max*max(cfg.Concurrency, 1), 1)
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
			return hit, nil
		}
	}
	if len(p.warm)+p.busy > p.max && len(p.warm) > 0 {
		evict, p.warm = p.warm[0], p.warm[1:]
	}
	return nil, evict
}

// put returns a live instance for reuse.
func (p *pool) put(w *warm) {
	w.lastUsed = time.Now()
	p.mu.Lock()
	p.warm = append(p.warm, w)
	p.mu.Unlock()
}

// expired removes and returns the idle instances unused for longer than the idle timeout, and
// those whose process has ended.
func (p *pool) expired(now time.Time) []*warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*warm
	keep := p.warm[:0]
	for _, w := range p.warm {
		select {
		case <-w.inst.Done():
			out = append(out, w)
			continue
		default:
		}
		if now.Sub(w.lastUsed) > p.idle {
			out = append(out, w)
			continue
		}
		keep = append(keep, w)
	}
	p.warm = keep
	return out
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
