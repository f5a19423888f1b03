package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// handle runs one delivery of an event and finishes it. It calls release as soon as the instance
// is free again, so the next event can start while this one's result is stored and acknowledged.
func (w *Worker) handle(ctx context.Context, p *pool, msg jetstream.Msg, release func()) {
	start := time.Now()
	j := job{msg: msg, fn: p.fn, reply: msg.Headers().Get(events.HeaderReply), redrive: events.EventRedrive(msg.Headers()), delivered: 1}
	if meta, err := msg.Metadata(); err == nil {
		j.delivered, j.enqueued, j.seq = int(meta.NumDelivered), meta.Timestamp, meta.Sequence.Stream
	}
	j.attempt = j.delivered
	// Tell JetStream the event is being worked on before anything that may take a while (a cold
	// start, a long run), so only a dead worker's events come back.
	j.progress = progress(msg, events.AckWait/3)
	defer j.progress()
	ev, err := events.ParseHeaders(msg.Headers(), msg.Data())
	j.id, j.trigger = ev.ID(), events.EventTrigger(ev)
	if err != nil {
		w.finish(ctx, j, rejected(j, fmt.Sprintf("malformed event: %v", err)))
		return
	}
	if j.reply == "" {
		if o, ok := w.held.take(heldKey(j.id, j.redrive)); ok { // ran here before: write its outcome
			j.attempt, j.deadLettered = o.res.Attempts, o.deadLettered
			w.finish(ctx, j, o.res)
			return
		}
		if r, ok := w.recorded(ctx, j); ok {
			j.exit = recorded
			w.finish(ctx, j, r)
			return
		}
		j.attempt = w.attempt(ctx, j)
	}
	deadline := time.Time{}
	if s, ok := ev.Extensions()[events.ExtDeadline]; ok {
		if ms, err := strconv.ParseInt(fmt.Sprint(s), 10, 64); err == nil {
			deadline = time.UnixMilli(ms)
			if start.After(deadline) { // the synchronous caller has given up: nobody to run it for
				j.exit = expired
				w.finish(ctx, j, events.Result{ID: j.id, Function: j.fn})
				return
			}
		}
	}
	v, err := w.version(ctx, j.fn, events.EventVersion(ev))
	if err != nil {
		w.finish(ctx, j, rejected(j, err.Error()))
		return
	}
	j.retries = v.Config.Retries

	runDeadline := start.Add(v.Config.Timeout.D())
	if !deadline.IsZero() && deadline.Before(runDeadline) {
		runDeadline = deadline
	}

	res := events.Result{ID: j.id, Function: j.fn, Version: v.Version, Enqueued: j.enqueued, Started: start}
	inst, kind, err := w.instance(ctx, p, v)
	if errors.Is(err, errNoCapacity) {
		// Leave it to an instance that exists, on another worker; no more probing here for
		// probeHold, or until this worker wins a slot.
		p.holdProbe()
		release()
		j.exit = handedBack
		w.finish(ctx, j, events.Result{ID: j.id, Function: j.fn})
		return
	}
	var resp instance.Response
	if err == nil {
		w.platformLine(j, v, "START RequestId: "+j.id+" Version: "+strconv.Itoa(v.Version))
		resp, err = inst.inst.Invoke(ctx, instance.Request{
			ID: j.id, Deadline: runDeadline, Payload: ev.Data(), Attributes: attributes(ev),
		})
	}
	res.Finished = time.Now()
	res.DurationMs = float64(res.Finished.Sub(start).Microseconds()) / 1000
	res.Outcome, res.Error = outcome(resp, err, v)
	res.Error = res.Error.Cut(events.RecordErrorLimits()) // before it reaches a reply, a record or a log
	if res.Outcome == events.OutcomeOK {
		res.Payload = resp.Payload
	}
	if j.reply != "" {
		w.reply(j, res) // a synchronous caller gets its answer before any bookkeeping
		j.replied = true
	}
	var peak uint64
	if inst != nil {
		// Read the sandbox's measurement off the answer's path, and start the next one.
		u := inst.inst.Usage()
		peak = u.PeakMemoryBytes
		if prev := inst.forksRefused.Swap(u.ForksRefused); u.ForksRefused > prev {
			w.platformLine(j, v, fmt.Sprintf("WARNING RequestId: %s the sandbox's process limit refused %d process creations",
				j.id, u.ForksRefused-prev))
		}
		keep := alive(inst) && (res.Outcome == events.OutcomeOK || res.Outcome == events.OutcomeError)
		idle, removed := p.done(inst, keep)
		switch {
		case idle: // a new peak for the next invocations; while others run, theirs goes on
			inst.inst.ResetPeak()
		case removed:
			w.stop(inst)
		}
	}
	release()
	if err := w.report(ctx, j, v, inst, res, kind, peak); err != nil {
		// No acknowledgement without the meter record: the event is delivered again, and that
		// delivery makes the record.
		w.logger.Error("meter record not stored; the event is left to be delivered again",
			"function", j.fn, "invocation", j.id, "err", err)
		return
	}
	w.finish(ctx, j, res)
}

// reply gives a synchronous caller its answer; the event is acknowledged later, in finish.
func (w *Worker) reply(j job, res events.Result) {
	if err := w.nc.PublishMsg(events.NewReply(j.reply, res)); err != nil {
		w.logger.Warn("reply to caller", "function", j.fn, "invocation", j.id, "err", err)
	}
}

func rejected(j job, msg string) events.Result {
	return events.Result{ID: j.id, Function: j.fn, Outcome: events.OutcomeRejected,
		Error: &events.FunctionError{Type: "Rejected", Message: msg}}
}

// version reads the version an event was resolved to, or the newest when it names none (a
// trigger's event).
func (w *Worker) version(ctx context.Context, fn string, n int) (events.Version, error) {
	var (
		v   events.Version
		err error
	)
	if n == 0 {
		v, err = w.fns.Resolve(ctx, fn, "")
	} else {
		v, err = w.fns.Version(ctx, fn, n)
	}
	if err != nil {
		return v, fmt.Errorf("function %s version %d: %w", fn, n, err)
	}
	return v, nil
}

// errNoCapacity: the worker holds no slot for a new instance and cannot win one.
var errNoCapacity = errors.New("no instance slot on this worker")

// capacityRetry is how soon an event this worker had no slot for is offered again.
const capacityRetry = 50 * time.Millisecond

// instance returns room for one invocation on an instance of the version: a warm one with room
// (warm), one being started (cold, waited for), or a new one it starts (cold) under a slot: a
// spare one, one claimed now, or that of an idle instance of another version, which is stopped.
func (w *Worker) instance(ctx context.Context, p *pool, v events.Version) (*warm, startKind, error) {
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
	if x.claim != "" {
		inst, kind, err := w.launch(ctx, v)
		if err != nil {
			p.notStarted(x, x.claim, err)
			return nil, kind, err
		}
		p.started(x, inst, kind, "")
		return x, kind, nil
	}
	// No slot at hand: claim one while the instance starts, so the claim's round trip adds
	// nothing to the cold start. Memory is set aside first: no instance starts beyond it.
	mem := v.Config.MemoryMB
	var (
		inst *instance.Instance
		kind = startScratch
		err  error
		c    claimResult
	)
	c.err = w.claims.reserve(p.fn, mem)
	if errors.Is(c.err, ErrNoMemory) && w.makeRoom(p.fn, mem) {
		c.err = w.claims.reserve(p.fn, mem)
	}
	if c.err == nil {
		claimed := make(chan claimResult, 1)
		limit := p.limit()
		go func() {
			key, err := w.claims.win(ctx, p.fn, limit, mem)
			claimed <- claimResult{key, err}
		}()
		inst, kind, err = w.launch(ctx, v)
		c = <-claimed
	}
	if c.err != nil {
		old := p.evict(x) // reuse the slot of an idle instance of another version
		if old == nil {
			if inst != nil {
				_ = inst.Close()
			}
			err := fmt.Errorf("%w: %w", errNoCapacity, c.err)
			p.notStarted(x, "", err)
			return nil, startScratch, err
		}
		_ = old.inst.Close()
		c.key = old.claim
	}
	if inst == nil && err == nil { // no memory to claim with: start now, under the evicted one's slot
		inst, kind, err = w.launch(ctx, v)
	}
	if err != nil {
		p.notStarted(x, c.key, err)
		return nil, kind, err
	}
	p.started(x, inst, kind, c.key)
	return x, kind, nil
}

type claimResult struct {
	key string
	err error
}

func alive(x *warm) bool {
	select {
	case <-x.inst.Done():
		return false
	default:
		return true
	}
}

// outcome classifies an attempt.
func outcome(resp instance.Response, err error, v events.Version) (events.Outcome, *events.FunctionError) {
	if err == nil {
		if resp.Error == nil {
			return events.OutcomeOK, nil
		}
		return events.OutcomeError, &events.FunctionError{Type: resp.Error.Type, Message: resp.Error.Message, Trace: resp.Error.Trace}
	}
	o, typ := events.OutcomeCrash, "Runtime.ExitError"
	switch {
	case errors.Is(err, instance.ErrTimeout):
		return events.OutcomeTimeout, &events.FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("task timed out after %s", v.Config.Timeout.D())}
	case errors.Is(err, instance.ErrInit):
		o, typ = events.OutcomeInit, "Runtime.InitError"
	case errors.Is(err, instance.ErrOOM):
		o, typ = events.OutcomeOOM, "Runtime.OutOfMemory"
	}
	fe := &events.FunctionError{Type: typ, Message: err.Error()}
	var f *instance.Failure
	if errors.As(err, &f) {
		if f.Function != nil && f.Function.Type != "" {
			fe.Type = f.Function.Type
		}
		fe.Trace = f.Stderr
	}
	return o, fe
}

func attributes(ev interface {
	ID() string
	Type() string
	Source() string
	Subject() string
	Time() time.Time
}) map[string]string {
	a := map[string]string{"id": ev.ID(), "type": ev.Type(), "source": ev.Source()}
	if s := ev.Subject(); s != "" {
		a["subject"] = s
	}
	if t := ev.Time(); !t.IsZero() {
		a["time"] = t.UTC().Format(time.RFC3339Nano)
	}
	return a
}

// progress tells JetStream the event is still being worked on, every interval until stopped
// (stop is idempotent; once it returned, no InProgress follows, so one cannot undo a Nak's
// delay). An event done sooner costs one timer and no message.
func progress(msg jetstream.Msg, every time.Duration) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress()
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

func (w *Worker) platformLine(j job, v events.Version, text string) {
	w.tel.Log(events.LogLine{Time: time.Now(), Function: j.fn, Version: v.Version, InvocationID: j.id, Stream: "platform", Message: text})
}

// report queues the END and REPORT lines of an attempt and publishes its meter record. It
// returns once the record is stored on the bus, or with an error once ctx ended: the event must
// then not be acknowledged.
func (w *Worker) report(ctx context.Context, j job, v events.Version, inst *warm, res events.Result, kind startKind, peak uint64) error {
	cold := kind != startWarm
	billed := int64(math.Ceil(res.DurationMs))
	m := events.Meter{
		InvocationID: j.id, Function: j.fn, Version: v.Version, Trigger: j.trigger, Start: res.Started,
		DurationMs: res.DurationMs, BilledMs: billed, MemoryMB: v.Config.MemoryMB, Outcome: res.Outcome,
		Cold: cold, Attempt: j.attempt, PeakMemoryMB: float64(peak) / (1 << 20),
	}
	if cold {
		m.ColdStart = kind.String()
	}
	if inst != nil && cold {
		m.InitMs = float64(inst.inst.InitDuration().Microseconds()) / 1000
	}
	if inst != nil {
		w.platformLine(j, v, "END RequestId: "+j.id)
		line := fmt.Sprintf("REPORT RequestId: %s Duration: %.2f ms Billed Duration: %d ms Memory Size: %d MB", j.id, res.DurationMs, billed, v.Config.MemoryMB)
		if peak > 0 {
			line += fmt.Sprintf(" Max Memory Used: %d MB", (peak+(1<<20)-1)>>20)
		}
		line += " Outcome: " + string(res.Outcome)
		if cold {
			line += fmt.Sprintf(" Init Duration: %.2f ms Start: %s", m.InitMs, kind)
		}
		w.platformLine(j, v, line)
	}
	return w.tel.Meter(ctx, m, events.MeterMsgID(j.id, j.redrive, j.attempt))
}

// makeRoom stops idle instances of other functions, least recently used first and never below
// their min, until an instance of memoryMB fits this worker's budget; it reports whether it does.
// Without it, a worker whose budget idle instances fill would turn another function's events away
// until those instances' idle timeout.
func (w *Worker) makeRoom(fn string, memoryMB int) bool {
	var idle []idleInstance
	for _, p := range w.otherPools(fn) {
		idle = append(idle, p.idleBeyondMin()...)
	}
	slices.SortFunc(idle, func(a, b idleInstance) int { return a.lastUsed.Compare(b.lastUsed) })
	for _, c := range idle {
		if w.claims.fits(memoryMB) {
			return true
		}
		if c.pool.removeIdle(c.x) {
			w.logger.Info("stopping an idle instance to make room", "function", c.pool.fn, "for", fn, "memory_mb", memoryMB)
			w.stop(c.x)
		}
	}
	return w.claims.fits(memoryMB)
}

// roomFor reports whether an instance of memoryMB fits the budget now, or would once makeRoom
// stopped the idle instances of other functions.
func (w *Worker) roomFor(fn string, memoryMB int) bool {
	used, budget := w.claims.usage()
	free := budget - used
	if free >= memoryMB {
		return true
	}
	for _, p := range w.otherPools(fn) {
		for _, c := range p.idleBeyondMin() {
			if free += w.claims.memoryOf(c.x.claim); free >= memoryMB {
				return true
			}
		}
	}
	return false
}

// otherPools returns the pools of every function but fn.
func (w *Worker) otherPools(fn string) []*pool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*pool, 0, len(w.pools))
	for name, r := range w.pools {
		if name != fn {
			out = append(out, r.pool)
		}
	}
	return out
}
