package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// job is one delivery of an invocation event.
type job struct {
	msg       jetstream.Msg
	fn        string
	id        string
	trigger   string
	reply     string // sync caller's inbox, "" for async
	replied   bool   // the sync caller has its answer; the event waits for its meter record
	fresh     bool   // the gateway minted the event's id (events.HeaderFresh)
	redrive   int    // the event's ExtRedrive count
	seq       uint64 // the event's sequence in SLUICE_INVOKE
	delivered int    // JetStream's delivery count, 1 for the first delivery
	attempt   int    // the run of the function this delivery makes, 1 for the first
	retries   int    // async retries the function allows
	enqueued  time.Time
	start     time.Time // when the worker took the delivery
	deadline  time.Time // when a synchronous caller gives up; zero when none waits
	tail      bool      // the caller asked for the tail of the attempt's log (events.ExtLogTail)
	hops      int       // destinations the event came through (events.ExtHops)
	// reportsItems: the event is a batch whose function reports failed records (events.ExtBatch).
	reportsItems bool
	startsAt     int // the attempt the event's first delivery makes: 1, or more for a batch's failed records
	// The function's destinations for the outcome of an async event (events.Config).
	onSuccess, onFailure string
	// deadLettered: the event's dead letter is published already (an outcome held for a write).
	deadLettered bool
	progress     func() // stops the InProgress ticks; called before the event is acknowledged
}

// handle takes one delivery of an event along its steps (docs/design.md §4) and finishes it:
// the steps give the delivery's outcome, early or after the run, and finish alone turns it into
// the event's acknowledgement. release gives back the room the delivery took in p as soon as its
// instance is free again, so the next event can start while this one is reported and finished.
func (w *Worker) handle(ctx context.Context, p *pool, msg jetstream.Msg, release func()) {
	j := receive(p.fn, msg)
	defer j.progress()
	o := w.deliver(ctx, p, &j, release)
	w.finish(ctx, j, o)
}

// deliver runs the steps of a delivery: parse → recall → expire → resolve → acquire → invoke →
// release → answer → report. A step that ends the delivery early returns its outcome.
func (w *Worker) deliver(ctx context.Context, p *pool, j *job, release func()) outcome {
	ev, err := parse(j)
	if err != nil {
		return rejected(*j, fmt.Sprintf("malformed event: %v", err))
	}
	if o, ok := w.recall(ctx, j); ok {
		return o
	}
	if o, ok := expire(*j); ok {
		return o
	}
	v, err := w.resolve(ctx, j, ev)
	if err != nil {
		return rejected(*j, err.Error())
	}
	if o, ok := tooOld(*j, v, time.Now()); ok {
		return o
	}
	if o, ok := waitUntil(*j, ev, time.Now()); ok {
		release()
		return o
	}
	if o, ok := w.waitTurn(ctx, *j, ev); ok {
		release()
		return o
	}
	l, err := w.instances.Acquire(ctx, p, v)
	if errors.Is(err, errNoCapacity) {
		release()
		return outcome{exit: handedBack, res: events.Result{ID: j.id, Function: j.fn}}
	}
	res := w.invoke(ctx, *j, v, ev, l, err)
	peak := w.vacate(*j, v, l, &res) // free before the answer: a caller's next call finds room
	release()
	w.answer(j, res)
	if err := w.report(ctx, *j, v, l, res, peak); err != nil {
		return outcome{exit: unmetered, res: res, err: err}
	}
	return outcome{exit: ran, res: res}
}

// receive makes the job of a delivery from its metadata, and tells JetStream the event is being
// worked on before anything that may take a while (a cold start, a long run), so only a dead
// worker's events come back.
func receive(fn string, msg jetstream.Msg) job {
	h := msg.Headers()
	j := job{msg: msg, fn: fn, reply: h.Get(events.HeaderReply), redrive: events.EventRedrive(h),
		fresh: h.Get(events.HeaderFresh) != "", delivered: 1, start: time.Now()}
	if meta, err := msg.Metadata(); err == nil {
		j.delivered, j.enqueued, j.seq = int(meta.NumDelivered), meta.Timestamp, meta.Sequence.Stream
	}
	j.attempt = j.delivered
	j.progress = progress(msg, events.AckWait/3)
	return j
}

// parse reads the CloudEvent of the delivery: its id, trigger and a synchronous caller's
// deadline go to the job.
func parse(j *job) (event.Event, error) {
	ev, err := events.ParseHeaders(j.msg.Headers(), j.msg.Data())
	j.describe(ev)
	return ev, err
}

// describe takes the event's id, trigger and a synchronous caller's deadline into the job.
func (j *job) describe(ev event.Event) {
	j.id, j.trigger = ev.ID(), events.EventTrigger(ev)
	tail, _ := events.Extension(ev, events.ExtLogTail)
	batch, _ := events.Extension(ev, events.ExtBatch)
	j.tail, j.reportsItems = tail == "1", batch == events.BatchReport
	j.startsAt = events.EventAttempt(ev) // a batch's failed records go on counting
	j.attempt = j.delivered + j.startsAt - 1
	j.hops = events.EventHops(ev)
	if s, ok := events.Extension(ev, events.ExtDeadline); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			j.deadline = time.UnixMilli(ms)
		}
	}
}

// expire ends a delivery whose synchronous caller has given up: there is nobody to run it for.
func expire(j job) (outcome, bool) {
	if !late(j) {
		return outcome{}, false
	}
	return outcome{exit: expired, res: events.Result{ID: j.id, Function: j.fn}}, true
}

// resolve reads the version the event was resolved to, or the newest when it names none (a
// trigger's event), and takes the retries it allows.
func (w *Worker) resolve(ctx context.Context, j *job, ev event.Event) (events.Version, error) {
	var (
		v   events.Version
		err error
	)
	n := events.EventVersion(ev)
	if n == 0 {
		v, err = w.fns.Resolve(ctx, j.fn, "")
	} else {
		v, err = w.fns.Version(ctx, j.fn, n)
	}
	if err != nil {
		return v, fmt.Errorf("function %s version %d: %w", j.fn, n, err)
	}
	j.retries, j.onSuccess, j.onFailure = v.Config.Retries, v.Config.OnSuccess, v.Config.OnFailure
	return v, nil
}

// invoke runs the event on the leased instance, or takes startErr when the instance could not
// start, and returns the attempt's result, its error cut to the records' size before it reaches
// a reply, a record or a log.
func (w *Worker) invoke(ctx context.Context, j job, v events.Version, ev event.Event, l lease, startErr error) events.Result {
	var resp instance.Response
	err := startErr
	if err == nil {
		if j.tail {
			w.taps.start(j.id) // vacate stops it
		}
		resp, err = l.Invoke(ctx, instance.Request{
			ID: j.id, Deadline: runDeadline(j, v), Payload: ev.Data(), Attributes: attributes(ev),
		})
	}
	res := events.Result{ID: j.id, Function: j.fn, Version: v.Version, Enqueued: j.enqueued, Started: j.start}
	res.Finished = time.Now()
	res.DurationMs = float64(res.Finished.Sub(j.start).Microseconds()) / 1000
	res.Outcome, res.Error = classify(resp, err, v)
	res.Error = res.Error.Cut(events.RecordErrorLimits())
	if res.Outcome == events.OutcomeOK {
		res.Payload = resp.Payload
	}
	return res
}

// runDeadline is when the run must end: the function's timeout, or sooner the caller's deadline.
func runDeadline(j job, v events.Version) time.Time {
	d := j.start.Add(v.Config.Timeout.D())
	if !j.deadline.IsZero() && j.deadline.Before(d) {
		return j.deadline
	}
	return d
}

// answer gives a synchronous caller its answer at once, before any bookkeeping; the event is
// acknowledged later, in finish.
func (w *Worker) answer(j *job, res events.Result) {
	if j.reply == "" {
		return
	}
	w.reply(*j, res)
	j.replied = true
}

// reply publishes the result on a synchronous caller's inbox.
func (w *Worker) reply(j job, res events.Result) {
	if err := w.nc.PublishMsg(events.NewReply(j.reply, res)); err != nil {
		w.logger.Warn("reply to caller", "function", j.fn, "invocation", j.id, "err", err)
	}
}

// vacate reads the sandbox's measurement of the attempt off the answer's path and gives the
// instance back; it returns the peak memory, 0 when no instance started. When the caller asked
// for it, the tail of the attempt's log goes into res.
func (w *Worker) vacate(j job, v events.Version, l lease, res *events.Result) (peak uint64) {
	if !l.started() {
		return 0
	}
	var printed []string
	if j.tail {
		printed = w.taps.stop(j.id)
	}
	peak, refused := l.Usage()
	if refused > 0 {
		w.platformLine(j, v, fmt.Sprintf("WARNING RequestId: %s the sandbox's process limit refused %d process creations",
			j.id, refused))
	}
	l.Release(res.Outcome == events.OutcomeOK || res.Outcome == events.OutcomeError)
	if j.tail {
		res.LogTail = logTail(meterOf(j, v, l, *res, peak), printed)
	}
	return peak
}

// rejected is the outcome of an event that can never run: malformed, or naming no version.
func rejected(j job, msg string) outcome {
	return outcome{exit: ran, res: events.Result{ID: j.id, Function: j.fn, Outcome: events.OutcomeRejected,
		Error: &events.FunctionError{Type: "Rejected", Message: msg}}}
}

// classify tells how an attempt went from the instance's answer or error.
func classify(resp instance.Response, err error, v events.Version) (events.Outcome, *events.FunctionError) {
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

// attributes are the CloudEvent attributes an instance hands its function.
func attributes(ev event.Event) map[string]string {
	a := map[string]string{"id": ev.ID(), "type": ev.Type(), "source": ev.Source()}
	if s := ev.Subject(); s != "" {
		a["subject"] = s
	}
	if t := ev.Time(); !t.IsZero() {
		a["time"] = t.UTC().Format(time.RFC3339Nano)
	}
	if ct := ev.DataContentType(); ct != "" {
		a["datacontenttype"] = ct
	}
	for name, v := range ev.Extensions() { // a sender's own, and sluice's (sluicetrigger, ...)
		if s := fmt.Sprint(v); len(s) <= maxAttribute {
			a[name] = s
		}
	}
	return a
}

// maxAttribute bounds an extension handed to the function among its event's attributes; a
// longer one (a queue message's many headers) stays out of the context, in the event only.
const maxAttribute = 4096

// progress tells JetStream the event is still being worked on, every interval until stopped.
// InProgress is a heartbeat, not an acknowledgement: it ends no delivery.
func progress(msg jetstream.Msg, every time.Duration) (stop func()) {
	return tick(every, every, func() { _ = msg.InProgress() })
}

// tick calls f after first and then every interval until stopped. stop is idempotent, and once
// it returned f is not called again (so a heartbeat cannot follow the delivery's Nak). Work done
// sooner than first costs one timer and no call.
func tick(first, every time.Duration, f func()) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(first, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		f()
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}
