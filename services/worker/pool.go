package worker

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// warm is an instance with the version it runs, or one being started (inst nil until ready is
// closed). Fields below mu are the pool's to guard.
type warm struct {
	version      int
	claim        string        // the instance slot it runs under
	ready        chan struct{} // closed once inst is set, or err when it could not start
	forksRefused atomic.Uint64 // as last reported in the function's logs

	// Set before ready is closed, read after.
	inst *instance.Instance
	kind startKind // how it came
	err  error

	// Guarded by pool.mu.
	running  int // invocations on it, or waiting for it to start
	lastUsed time.Time
}

// spare is a slot claimed for an instance not started yet.
type spare struct {
	key   string
	since time.Time
}

// pool holds one function's instances on this worker and bounds how many invocations run at once:
// concurrency per instance slot it holds (instances, those starting, spare slots), or one probe
// while it holds none.
type pool struct {
	fn string

	mu       sync.Mutex
	max      int       // the function's max instances, over all workers
	conc     int       // invocations one instance runs at once
	memoryMB int       // memory setting of the latest version
	noProbe  time.Time // with no slot held, pull one event and claim a slot for it, from then on
	noGrow   time.Time // claim no more slots for waiting events before then
	spare    []spare
	min      int            // instances of latest kept running, never reaped below
	latest   events.Version // the newest version, what min instances run
	idle     time.Duration
	retryAt  time.Time     // no provisioning before, after a failed start
	busy     int           // invocations acquired: running or about to
	pending  int           // delivered events waiting here for room: direct calls yield to them
	insts    []*warm       // live and starting instances
	freed    chan struct{} // closed and replaced whenever a slot frees
	// desired is the scaler's decision for the function over all workers, when a scaler acts;
	// -1 when none is known. lag says events wait on the consumer, as the scaler saw it.
	desired int
	lag     bool
	nudge   chan struct{} // buffered 1: the decision changed, provision again

	calls calls // the direct calls running (direct.go)
}

func newPool(v events.Version) *pool {
	p := &pool{fn: v.Function, freed: make(chan struct{}), desired: -1, nudge: make(chan struct{}, 1)}
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
	p.max = max(cfg.Max, 1)
	p.conc = max(cfg.Concurrency, 1)
	p.memoryMB = cfg.MemoryMB
	p.min = min(max(cfg.Min, 0), p.max)
	p.idle = cfg.IdleTimeout.D()
	if p.idle <= 0 {
		p.idle = events.DefaultIdleTimeout
	}
	p.signal()
}

// held is the instance slots held: instances (starting ones too) and spares. Called with mu held.
func (p *pool) held() int { return len(p.insts) + len(p.spare) }

// tryAcquire takes room for one more event when the slots held allow it (concurrency per slot),
// or the probe when none is held and probing is on and allowed. Otherwise it returns a channel
// closed when something frees, and whether the pool may claim one more slot.
func (p *pool) tryAcquire(probeOK bool) (ok bool, freed <-chan struct{}, canGrow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := p.held()
	if p.busy < held*p.conc || p.probeFree(probeOK) {
		p.busy++
		return true, nil, false
	}
	return false, p.freed, held < p.max
}

// tryAcquireDirect takes room for one direct call as tryAcquire would for an event (the slots
// held allow it, or the probe when probeOK), but only when no delivered event waits for room
// here: a delivered event is owed the next free room, or a stream of direct calls could keep it
// waiting.
func (p *pool) tryAcquireDirect(probeOK bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending > 0 || p.busy >= p.held()*p.conc && !p.probeFree(probeOK) {
		return false
	}
	p.busy++
	return true
}

// probeFree reports whether the probe may be taken: no slot held, nothing running, and probing
// on (probeOK) and not on hold. Called with mu held.
func (p *pool) probeFree(probeOK bool) bool {
	return p.held() == 0 && p.busy == 0 && probeOK && !time.Now().Before(p.noProbe)
}

// awaitRoom counts a delivered event waiting for room in; the func returned counts it out.
func (p *pool) awaitRoom() (done func()) {
	p.mu.Lock()
	p.pending++
	p.mu.Unlock()
	return sync.OnceFunc(func() {
		p.mu.Lock()
		p.pending--
		p.mu.Unlock()
	})
}

// free is how many more events the slots held take now.
func (p *pool) free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.held()*p.conc-p.busy, 0)
}

// acquireN takes room for n more events, which free reported.
func (p *pool) acquireN(n int) {
	p.mu.Lock()
	p.busy += n
	p.mu.Unlock()
}

// releaseN gives back room for n events taken and not run.
func (p *pool) releaseN(n int) {
	p.mu.Lock()
	p.busy -= n
	p.signal()
	p.mu.Unlock()
}

// addSpare adds a slot won for an instance to come.
func (p *pool) addSpare(key string) {
	p.mu.Lock()
	p.spare = append(p.spare, spare{key: key, since: time.Now()})
	p.noProbe = time.Time{}
	p.signal()
	p.mu.Unlock()
}

// holdProbe stops probing for probeHold: no slot could be won for the last probe's event.
func (p *pool) holdProbe() {
	p.mu.Lock()
	p.noProbe = time.Now().Add(probeHold)
	p.mu.Unlock()
}

// holdGrow stops claiming slots for waiting events for growHold: every slot was held.
func (p *pool) holdGrow() {
	p.mu.Lock()
	p.noGrow = time.Now().Add(growHold)
	p.mu.Unlock()
}

// growHeld reports whether claiming slots for waiting events is on hold.
func (p *pool) growHeld() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.noGrow)
}

// growHold is how long a worker that found every slot of a function held waits before it tries
// to claim one for waiting events again (slots given back meanwhile are found then, or by the
// workers holding them).
const growHold = 500 * time.Millisecond

// probeHold is how long a worker that could win no slot for an event waits before it probes
// again: slots held elsewhere may have been given back meanwhile, and an event handed back
// waits as redelivery, not as lag that would make the worker claim a slot.
const probeHold = time.Second

// unusedSpares removes and returns spare slots older than age beyond those events already
// acquired may still need.
func (p *pool) unusedSpares(now time.Time, age time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	need := (max(p.busy-len(p.insts)*p.conc, 0) + p.conc - 1) / p.conc
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

// How take found room for an invocation.
type took int

const (
	tookWarm     took = iota // on a ready instance
	tookStarting             // on an instance being started: wait for its ready
	tookFresh                // on a new instance the caller starts
)

// take finds room for one invocation of version: the instance of it with the most invocations
// below the concurrency (a starting one too), counted as running one more. When none has room
// it adds a starting instance for the caller to start (tookFresh), under a spare slot when one
// is at hand (its claim is set), else under a slot the caller claims.
func (p *pool) take(version int) (x *warm, how took) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x = p.roomy(version, false); x != nil {
		x.running++
		if x.inst == nil {
			return x, tookStarting
		}
		return x, tookWarm
	}
	x = &warm{version: version, ready: make(chan struct{}), running: 1}
	if n := len(p.spare); n > 0 {
		x.claim, p.spare = p.spare[n-1].key, p.spare[:n-1]
	}
	p.insts = append(p.insts, x)
	return x, tookFresh
}

// takeWarm finds room for one invocation of version on a ready instance, as take does, or
// returns nil: the direct path never waits for an instance, nor starts one.
func (p *pool) takeWarm(version int) *warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.roomy(version, true)
	if x != nil {
		x.running++
	}
	return x
}

// roomy is the instance of version with the most invocations below the concurrency, the most
// recently used of those, a ready one when ready is set; nil when none has room. mu is held.
func (p *pool) roomy(version int, ready bool) (x *warm) {
	for _, w := range p.insts {
		if w.version != version || w.running >= p.conc || ready && w.inst == nil {
			continue
		}
		if x == nil || w.running > x.running || (w.running == x.running && w.lastUsed.After(x.lastUsed)) {
			x = w
		}
	}
	return x
}

// started makes a starting instance ready, under slot when it had none yet.
func (p *pool) started(x *warm, inst *instance.Instance, kind startKind, slot string) {
	p.mu.Lock()
	x.inst, x.kind = inst, kind
	if slot != "" {
		x.claim = slot
	}
	x.lastUsed = time.Now()
	close(x.ready)
	p.mu.Unlock()
}

// notStarted forgets a starting instance that failed with err; the invocations waiting for it
// get err. slot, when set, is kept as a spare.
func (p *pool) notStarted(x *warm, slot string, err error) {
	p.mu.Lock()
	p.remove(x)
	x.err = err
	close(x.ready)
	if slot != "" {
		p.spare = append(p.spare, spare{key: slot, since: time.Now()})
	}
	p.signal()
	p.mu.Unlock()
}

// remove drops x from the instances; false when it was not there. Called with mu held.
func (p *pool) remove(x *warm) bool {
	for i, w := range p.insts {
		if w == x {
			p.insts = append(p.insts[:i], p.insts[i+1:]...)
			return true
		}
	}
	return false
}

// evict removes the least recently used idle instance, of another version than keep, whose slot
// the caller reuses.
func (p *pool) evict(keep *warm) *warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	var x *warm
	for _, w := range p.insts {
		if w == keep || w.running > 0 || w.inst == nil {
			continue
		}
		if x == nil || w.lastUsed.Before(x.lastUsed) {
			x = w
		}
	}
	if x != nil {
		p.remove(x)
	}
	return x
}

// done ends one invocation on x. keep false says the instance is finished (crashed, timed
// out): it is removed, and removed reports whether this call did it (the caller stops it then).
// idle reports that no invocation runs on a kept instance any more.
func (p *pool) done(x *warm, keep bool) (idle, removed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x.running--
	x.lastUsed = time.Now()
	if !keep {
		removed = p.remove(x)
		p.signal()
		return false, removed
	}
	return x.running == 0, false
}

// waiting forgets one invocation that waited for x to start, which failed.
func (p *pool) waiting(x *warm) {
	p.mu.Lock()
	x.running--
	p.mu.Unlock()
}

// expired removes and returns the idle instances unused for longer than the idle timeout, and
// those whose process has ended. When a scaler acts, it also returns, without removing them,
// the instances idle for scaleDownGrace whose slot is at or above its desired count (above):
// each moves to a free slot below that count, or stops (settleAbove). The min most recently
// used instances of the latest version (counting those in use) are never expired.
func (p *pool) expired(now time.Time) (out, above []*warm) {
	p.mu.Lock()
	defer p.mu.Unlock()
	order, kept := p.idleWarmestFirst()
	for _, w := range order {
		select {
		case <-w.inst.Done():
			out = append(out, w)
			continue
		default:
		}
		idleFor := now.Sub(w.lastUsed)
		switch {
		case p.keptForMin(w, &kept):
		case idleFor > p.idle:
			out = append(out, w)
		case p.desired >= 0 && idleFor > scaleDownGrace && slotIndex(w.claim) >= p.desired:
			above = append(above, w)
		}
	}
	for _, w := range out {
		p.remove(w)
	}
	if len(out) > 0 {
		p.signal()
	}
	return out, above
}

// idleWarmestFirst returns the idle instances, most recently used first (so those kept for min
// are the warmest), and how many instances of the latest version are busy or starting: they
// count toward min before any idle one. Called with mu held.
func (p *pool) idleWarmestFirst() (idle []*warm, kept int) {
	for _, w := range p.insts {
		switch {
		case w.running == 0 && w.inst != nil:
			idle = append(idle, w)
		case w.version == p.latest.Version:
			kept++
		}
	}
	slices.SortFunc(idle, func(a, b *warm) int { return b.lastUsed.Compare(a.lastUsed) })
	return idle, kept
}

// keptForMin reports whether idle instance w, taken warmest first, is one of the min instances
// kept warm, and counts it in kept when it is. Called with mu held.
func (p *pool) keptForMin(w *warm, kept *int) bool {
	if w.version == p.latest.Version && *kept < p.min {
		*kept++
		return true
	}
	return false
}

// desiredCount is the scaler's desired count; -1 when no scaler acts.
func (p *pool) desiredCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desired
}

// moveSlot puts an instance still idle under slot, returning its old slot; false when it is no
// longer idle here.
func (p *pool) moveSlot(x *warm, slot string) (old string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x.running > 0 || !p.has(x) {
		return "", false
	}
	old, x.claim = x.claim, slot
	return old, true
}

// idleBeyondMin returns the idle instances the pool could give up, with when each was last used:
// all those not running an invocation, less the min warmest of the latest version.
func (p *pool) idleBeyondMin() []idleInstance {
	p.mu.Lock()
	defer p.mu.Unlock()
	order, kept := p.idleWarmestFirst()
	var out []idleInstance
	for _, w := range order {
		if !p.keptForMin(w, &kept) {
			out = append(out, idleInstance{p, w, w.lastUsed})
		}
	}
	return out
}

// idleInstance is an idle instance of a pool as it was when listed.
type idleInstance struct {
	pool     *pool
	x        *warm
	lastUsed time.Time
}

// removeIdle removes an instance if it is still idle here.
func (p *pool) removeIdle(x *warm) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x.running > 0 || !p.remove(x) {
		return false
	}
	p.signal()
	return true
}

// has reports whether x is one of the instances. Called with mu held.
func (p *pool) has(x *warm) bool {
	for _, w := range p.insts {
		if w == x {
			return true
		}
	}
	return false
}

// scaleDownGrace is how long an instance above the scaler's desired count stays idle before it
// stops: long enough for a heartbeat to report its last use as active (BeatInterval) and for a
// scaler tick to count it, since uses that never wait on the consumer show no lag.
const scaleDownGrace = BeatInterval + 2*time.Second

// activeWindow is how recently an instance must have run an invocation to count as active in a
// heartbeat: two intervals, so that no use falls between two beats.
const activeWindow = 2 * BeatInterval

// slotIndex is the slot number of a claim key (events.ClaimKey); -1 when it has none.
func slotIndex(key string) int {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(key[i+1:])
	if err != nil {
		return -1
	}
	return n
}

// setDesired records the scaler's decision, desired -1 when no scaler acts, and whether
// events wait.
func (p *pool) setDesired(desired int, lag bool) {
	p.mu.Lock()
	changed := p.desired != desired || p.lag != lag
	p.desired, p.lag = desired, lag
	p.mu.Unlock()
	if changed {
		select {
		case p.nudge <- struct{}{}:
		default:
		}
	}
}

// missing reports the version new instances run, how many more instances of it this worker
// should start now, and the slots they must be below: those min needs (instances in use count)
// below max, or, when a scaler acts and events wait, those that bring the function to the
// scaler's desired count, below it (the claims share those slots among the workers). n is 0
// while a failed start waits for its retry time.
func (p *pool) missing(now time.Time) (v events.Version, n, below int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.retryAt) {
		return p.latest, 0, p.max
	}
	have := 0
	for _, w := range p.insts {
		if w.version == p.latest.Version {
			have++
		}
	}
	n = p.min - have
	if p.lag && p.desired > 0 && p.desired-have > n {
		return p.latest, p.desired - have, min(p.desired, p.max)
	}
	return p.latest, max(n, 0), p.max
}

// starting adds an instance of version being started under slot, for invocations to wait for.
func (p *pool) starting(version int, slot string) *warm {
	x := &warm{version: version, claim: slot, ready: make(chan struct{})}
	p.mu.Lock()
	p.insts = append(p.insts, x)
	p.signal()
	p.mu.Unlock()
	return x
}

// provisionFailed holds provisioning back for a while after a failed start.
func (p *pool) provisionFailed(now time.Time, wait time.Duration) {
	p.mu.Lock()
	p.retryAt = now.Add(wait)
	p.mu.Unlock()
}

// drain removes and returns every instance (none is in use once serve has returned).
func (p *pool) drain() []*warm {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*warm
	for _, w := range p.insts {
		if w.inst != nil {
			out = append(out, w)
		}
	}
	p.insts = nil
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

// instances reports the instances on this worker (starting ones under a slot too) and how many
// of them run an invocation. An instance started while its slot is being claimed counts once the
// slot is won.
func (p *pool) instances() (n, busy int) {
	n, busy, _ = p.activity(time.Time{})
	return n, busy
}

// activity reports the instances, the busy ones, and those busy or used since since (active).
func (p *pool) activity(since time.Time) (n, busy, active int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.insts {
		if w.inst == nil && w.claim == "" {
			continue
		}
		n++
		if w.running > 0 {
			busy++
		}
		if w.running > 0 || w.lastUsed.After(since) {
			active++
		}
	}
	return n, busy, active
}

// counts reports the invocations acquired and the idle instances.
func (p *pool) counts() (busy, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.insts {
		if w.running == 0 && w.inst != nil {
			idle++
		}
	}
	return p.busy, idle
}
