package worker

import (
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
	claim        string // the instance slot it runs under
}

// spare is a slot claimed for an instance not started yet.
type spare struct {
	key   string
	since time.Time
}

// pool holds one function's instances on this worker and bounds how many invocations run at once:
// one per instance slot it holds (instances plus spare slots), or one probe while it holds none.
type pool struct {
	fn string

	mu       sync.Mutex
	max      int  // the function's max instances, over all workers
	memoryMB int  // memory setting of the latest version
	probe    bool // with no slot held, pull one event and claim a slot for it
	spare    []spare
	min      int            // instances of latest kept running, never reaped below
	latest   events.Version // the newest version, what min instances run
	idle     time.Duration
	retryAt  time.Time     // no provisioning before, after a failed start
	busy     int           // slots acquired: invocations running or about to
	inUse    int           // instances handed out by take or started for an invocation, not yet back
	freed    chan struct{} // closed and replaced whenever a slot frees
	warm     []*warm       // idle instances, most recently used last
}

func newPool(v events.Version) *pool {
	p := &pool{fn: v.Function, freed: make(chan struct{}), probe: true}
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
	p.max = max(cfg.Max, 1) // concurrency > 1 per instance is not served yet: one invocation per instance
	p.memoryMB = cfg.MemoryMB
	p.min = min(max(cfg.Min, 0), p.max)
	p.idle = cfg.IdleTimeout.D()
	if p.idle <= 0 {
		p.idle = events.DefaultIdleTimeout
	}
	p.signal()
}

// tryAcquire takes a slot for one more event when the slots held allow it, or the probe when
// none is held and probing is on and allowed. Otherwise it returns a channel closed when
// something frees, and whether the pool may claim one more slot.
func (p *pool) tryAcquire(probeOK bool) (ok bool, freed <-chan struct{}, canGrow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := len(p.warm) + p.inUse + len(p.spare)
	if p.busy < held || (held == 0 && p.busy == 0 && p.probe && probeOK) {
		p.busy++
		return true, nil, false
	}
	return false, p.freed, held < p.max
}

// addSpare adds a slot won for an instance to come.
func (p *pool) addSpare(key string) {
	p.mu.Lock()
	p.spare = append(p.spare, spare{key: key, since: time.Now()})
	p.probe = true
	p.signal()
	p.mu.Unlock()
}

// setProbe turns probing on or off.
func (p *pool) setProbe(on bool) {
	p.mu.Lock()
	p.probe = on
	p.mu.Unlock()
}

// unusedSpares removes and returns spare slots older than age beyond those events already
// acquired may still need.
func (p *pool) unusedSpares(now time.Time, age time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	need := max(p.busy-p.inUse, 0)
	var out []string
	keep := p.spare[:0]
	for i, s := range p.spare {
		if i >= need && now.Sub(s.since) > age {
			out = append(out, s.key)
			continue
		}
		keep = append(keep, s)
	}
	p.spare = keep
	return out
}

// takeSpares removes and returns every spare slot.
func (p *pool) takeSpares() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.spare))
	for _, s := range p.spare {
		out = append(out, s.key)
	}
	p.spare = nil
	return out
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

// take returns an idle instance of version, if any, else a spare slot to start one under; both
// count as in use. Neither: the caller claims a slot or evicts.
func (p *pool) take(version int) (hit *warm, slot string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.warm) - 1; i >= 0; i-- {
		if p.warm[i].version == version {
			hit = p.warm[i]
			p.warm = append(p.warm[:i], p.warm[i+1:]...)
			p.inUse++
			return hit, ""
		}
	}
	if n := len(p.spare); n > 0 {
		slot, p.spare = p.spare[n-1].key, p.spare[:n-1]
		p.inUse++
	}
	return nil, slot
}

// evict removes the least recently used idle instance, whose slot the caller reuses; it counts
// the slot as in use.
func (p *pool) evict() *warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.warm) == 0 {
		return nil
	}
	x := p.warm[0]
	p.warm = p.warm[1:]
	p.inUse++
	return x
}

// started counts a slot just claimed for an invocation's instance as in use.
func (p *pool) started() {
	p.mu.Lock()
	p.inUse++
	p.mu.Unlock()
}

// notStarted returns the slot of an instance that failed to start as spare.
func (p *pool) notStarted(slot string) {
	p.mu.Lock()
	p.inUse--
	p.spare = append(p.spare, spare{key: slot, since: time.Now()})
	p.signal()
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
	p.signal()
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
	if len(out) > 0 {
		p.signal()
	}
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

// limit is the function's max instances.
func (p *pool) limit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// memory is the memory setting of the function's latest version, in MB.
func (p *pool) memory() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.memoryMB
}

// spareIdle is how long a slot won for an event that another worker took stays held.
const spareIdle = time.Second

// instances reports the instances on this worker and how many of them run an invocation.
func (p *pool) instances() (n, busy int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.warm) + p.inUse, p.inUse
}

// counts reports busy slots and idle instances.
func (p *pool) counts() (busy, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy, len(p.warm)
}
