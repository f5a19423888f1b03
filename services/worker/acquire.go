package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// instances is the one seam between an event's path and the instances it runs on. Acquire gives
// an invocation room on an instance and hides how: the function's pool, the instance slots
// claimed in sluice_claims, starting a process (launcher) and making room in the memory budget
// by stopping idle instances of other functions. Between events it keeps each function's
// instances (keep.go) and admits the events the pull loop may take (pull.go); it holds the
// pools of the functions served, which the heartbeat counts and the scaler's decisions reach.
// Safe for concurrent use.
type instances struct {
	claims   *claims
	launcher *launcher
	draining *atomic.Bool // the worker takes no more events: start and claim nothing
	logger   *slog.Logger

	mu    sync.Mutex
	pools map[string]*pool // the functions served, by name
}

// add serves the function of p from p.
func (s *instances) add(p *pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pools == nil {
		s.pools = map[string]*pool{}
	}
	s.pools[p.fn] = p
}

// remove stops serving fn from its pool; its instances stop with retire.
func (s *instances) remove(fn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pools, fn)
}

// pool returns the pool fn is served from.
func (s *instances) pool(fn string) (*pool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pools[fn]
	return p, ok
}

// served returns the names of the functions served.
func (s *instances) served() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.pools))
	for name := range s.pools {
		out = append(out, name)
	}
	return out
}

// others returns the pools of every function served but fn, for making room.
func (s *instances) others(fn string) []*pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*pool, 0, len(s.pools))
	for name, p := range s.pools {
		if name != fn {
			out = append(out, p)
		}
	}
	return out
}

// activity counts, by function, the instances running, those handling an invocation, and
// those that ran one since since (busy ones too); a function without instances is left out, as
// is one without active instances from active. The maps are never nil.
func (s *instances) activity(since time.Time) (running, busy, active map[string]int) {
	s.mu.Lock()
	pools := maps.Clone(s.pools)
	s.mu.Unlock()
	running, busy, active = map[string]int{}, map[string]int{}, map[string]int{}
	for name, p := range pools {
		if n, b, a := p.activity(since); n > 0 {
			running[name], busy[name] = n, b
			if a > 0 {
				active[name] = a
			}
		}
	}
	return running, busy, active
}

// errNoCapacity: the worker holds no slot for a new instance and cannot win one.
var errNoCapacity = errors.New("no instance slot on this worker")

// capacityRetry is how soon an event this worker had no slot for is offered again.
const capacityRetry = 50 * time.Millisecond

// lease is room for one invocation on an instance, from Acquire until Release.
type lease struct {
	in   *instances
	pool *pool
	x    *warm     // nil when the instance could not start
	kind startKind // how the instance came: warm, or how a cold start went (or was tried)
}

// Acquire returns room for one invocation of v on an instance of the function's pool p: a warm
// instance of v with room, one being started (waited for), or a new one it starts under a slot:
// a spare one, one claimed while the instance starts (stopping idle instances of other functions
// when the memory budget is full), or that of an idle instance of another version, which stops.
// With no slot to be had it fails with errNoCapacity, and p probes no more for probeHold. When
// the instance fails to start, it returns the start's error with a lease that holds no instance,
// only how the start went (for the meter); releasing that lease does nothing.
func (s *instances) Acquire(ctx context.Context, p *pool, v events.Version) (lease, error) {
	x, kind, err := s.room(ctx, p, v)
	if errors.Is(err, errNoCapacity) {
		// Leave the event to an instance that exists, on another worker; no more probing here
		// for probeHold, or until this worker wins a slot.
		p.holdProbe()
		return lease{}, err
	}
	return lease{in: s, pool: p, x: x, kind: kind}, err
}

// room finds or makes room for one invocation of v in p; x is nil on an error.
func (s *instances) room(ctx context.Context, p *pool, v events.Version) (x *warm, kind startKind, err error) {
	x, how := p.take(v.Version)
	switch how {
	case tookWarm:
		return x, startWarm, nil
	case tookStarting:
		<-x.ready // started for another invocation: a cold start for this one too
		if x.err != nil {
			p.waiting(x)
			return nil, x.kind, x.err
		}
		return x, x.kind, nil
	}
	if x.claim != "" { // a spare slot was at hand
		inst, kind, err := s.launcher.launch(ctx, v)
		if err != nil {
			p.notStarted(x, x.claim, err)
			return nil, kind, err
		}
		p.started(x, inst, kind, "")
		return x, kind, nil
	}
	return s.startClaiming(ctx, p, x, v)
}

// launched is what starting an instance gave.
type launched struct {
	inst *instance.Instance
	kind startKind
	err  error
}

// claimResult is what claiming a slot gave.
type claimResult struct {
	key string
	err error
}

// startClaiming starts the instance x stands for, which has no slot yet, and claims one for it
// meanwhile. With no slot to win, x takes the slot of an idle instance of p of another version,
// which stops; with none either, it fails with errNoCapacity.
func (s *instances) startClaiming(ctx context.Context, p *pool, x *warm, v events.Version) (*warm, startKind, error) {
	st, c := s.launchClaiming(ctx, p, v)
	if c.err != nil {
		old := p.evict(x) // reuse the slot of an idle instance of another version
		if old == nil {
			if st.inst != nil {
				_ = st.inst.Close()
			}
			err := fmt.Errorf("%w: %w", errNoCapacity, c.err)
			p.notStarted(x, "", err)
			return nil, startScratch, err
		}
		_ = old.inst.Close()
		c.key = old.claim
	}
	if st.inst == nil && st.err == nil { // no memory to claim with: start now, under the evicted one's slot
		st.inst, st.kind, st.err = s.launcher.launch(ctx, v)
	}
	if st.err != nil {
		p.notStarted(x, c.key, st.err)
		return nil, st.kind, st.err
	}
	p.started(x, st.inst, st.kind, c.key)
	return x, st.kind, nil
}

// launchClaiming sets the memory of an instance of v aside, making room when the budget is
// full, then starts the instance while it claims a slot below p's max, so the claim's round
// trip adds nothing to the cold start. No instance starts beyond the budget: without memory to
// set aside it starts none, and the claim's error says so.
func (s *instances) launchClaiming(ctx context.Context, p *pool, v events.Version) (launched, claimResult) {
	mem := v.Config.MemoryMB
	st := launched{kind: startScratch}
	c := claimResult{err: s.claims.reserve(p.fn, mem)}
	if errors.Is(c.err, ErrNoMemory) && s.makeRoom(p.fn, mem) {
		c.err = s.claims.reserve(p.fn, mem)
	}
	if c.err != nil {
		return st, c
	}
	claimed := make(chan claimResult, 1)
	limit := p.limit()
	go func() {
		key, err := s.claims.win(ctx, p.fn, limit, mem)
		claimed <- claimResult{key, err}
	}()
	st.inst, st.kind, st.err = s.launcher.launch(ctx, v)
	return st, <-claimed
}

// started reports whether the lease holds an instance.
func (l lease) started() bool { return l.x != nil }

// Invoke runs one invocation on the leased instance.
func (l lease) Invoke(ctx context.Context, req instance.Request) (instance.Response, error) {
	return l.x.inst.Invoke(ctx, req)
}

// initMs is how long the leased instance took to start, in milliseconds.
func (l lease) initMs() float64 {
	return float64(l.x.inst.InitDuration().Microseconds()) / 1000
}

// Usage reads the sandbox's measurement of the leased instance: its peak memory since it was
// last idle, and how many process creations its process limit refused since the last reading.
func (l lease) Usage() (peakBytes, forksRefused uint64) {
	u := l.x.inst.Usage()
	if prev := l.x.forksRefused.Swap(u.ForksRefused); u.ForksRefused > prev {
		forksRefused = u.ForksRefused - prev
	}
	return u.PeakMemoryBytes, forksRefused
}

// Release ends the invocation on the leased instance. reusable says the invocation left the
// instance fit for more (it answered, with a result or an error); an instance that is not, or
// whose process ended, is removed and stopped. An instance left idle starts a new peak-memory
// measurement; while others run on it, theirs goes on.
func (l lease) Release(reusable bool) {
	if l.x == nil {
		return
	}
	idle, removed := l.pool.done(l.x, reusable && alive(l.x))
	switch {
	case idle:
		l.x.inst.ResetPeak()
	case removed:
		l.in.stop(l.x)
	}
}

// alive reports whether the instance's process still runs.
func alive(x *warm) bool {
	select {
	case <-x.inst.Done():
		return false
	default:
		return true
	}
}

// stop closes an instance no longer counted in its pool and gives back its slot.
func (s *instances) stop(x *warm) {
	_ = x.inst.Close()
	s.claims.release(x.claim)
}

// makeRoom stops idle instances of other functions, least recently used first and never below
// their min, until an instance of memoryMB fits this worker's budget; it reports whether it does.
// Without it, a worker whose budget idle instances fill would turn another function's events away
// until those instances' idle timeout.
func (s *instances) makeRoom(fn string, memoryMB int) bool {
	var idle []idleInstance
	for _, p := range s.others(fn) {
		idle = append(idle, p.idleBeyondMin()...)
	}
	slices.SortFunc(idle, func(a, b idleInstance) int { return a.lastUsed.Compare(b.lastUsed) })
	for _, c := range idle {
		if s.claims.fits(memoryMB) {
			return true
		}
		if c.pool.removeIdle(c.x) {
			s.logger.Info("stopping an idle instance to make room", "function", c.pool.fn, "for", fn, "memory_mb", memoryMB)
			s.stop(c.x)
		}
	}
	return s.claims.fits(memoryMB)
}

// roomFor reports whether an instance of memoryMB fits the budget now, or would once makeRoom
// stopped the idle instances of other functions.
func (s *instances) roomFor(fn string, memoryMB int) bool {
	used, budget := s.claims.usage()
	free := budget - used
	if free >= memoryMB {
		return true
	}
	for _, p := range s.others(fn) {
		for _, c := range p.idleBeyondMin() {
			if free += s.claims.memoryOf(c.x.claim); free >= memoryMB {
				return true
			}
		}
	}
	return false
}
