package cron

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	robfig "github.com/robfig/cron/v3"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// parser accepts five fields, six with leading seconds, and the descriptors (@hourly, @every).
var parser = robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom |
	robfig.Month | robfig.Dow | robfig.Descriptor)

// Memory keeps the last fired time of each trigger. jetstream.KeyValue (the sluice_triggers
// bucket) is one.
type Memory interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// MemoryKey is the sluice_triggers key of a cron trigger's last fired time.
func MemoryKey(id string) string { return "cron." + id }

// Publish retries: how long after the scheduled time a failed publish is retried.
const (
	retryFor     = time.Minute
	retryInitial = 250 * time.Millisecond
	retryMax     = 10 * time.Second
)

// maxCatchUpSteps bounds the walk from the last fired time to now when catching up.
const maxCatchUpSteps = 1_000_000

// Adapter fires one cron trigger. Make it with New or Factory.
type Adapter struct {
	spec  events.Trigger
	sched robfig.Schedule
	loc   *time.Location
	mem   Memory // nil: no catch-up memory
	now   func() time.Time
}

// New makes the adapter of a cron spec without a memory (catch-up has nothing to start from);
// it is also the check of a spec at add time.
func New(spec events.Trigger) (trigger.Adapter, error) { return newAdapter(spec, nil) }

// Factory makes cron adapters that remember their last fired time in mem, for CatchUp.
func Factory(mem Memory) trigger.Factory {
	return func(spec events.Trigger) (trigger.Adapter, error) { return newAdapter(spec, mem) }
}

func newAdapter(spec events.Trigger, mem Memory) (*Adapter, error) {
	if spec.Kind != events.TriggerCron || spec.Cron == nil {
		return nil, fmt.Errorf("%w: not a cron trigger", events.ErrInvalidTrigger)
	}
	c := spec.Cron
	// The parser reads a "TZ=ZONE " or "CRON_TZ=ZONE " prefix, and panics on one that no space
	// follows.
	if (strings.HasPrefix(c.Expr, "TZ=") || strings.HasPrefix(c.Expr, "CRON_TZ=")) && !strings.Contains(c.Expr, " ") {
		return nil, fmt.Errorf("%w: cron expression %q: no fields after the time zone (or set the time zone with tz)", events.ErrInvalidTrigger, c.Expr)
	}
	sched, err := parser.Parse(c.Expr)
	if err != nil {
		return nil, fmt.Errorf("%w: cron expression %q: %w (use 5 fields, 6 with seconds first, or @hourly, @every 10s…)", events.ErrInvalidTrigger, c.Expr, err)
	}
	// A date that never comes (February 30) leaves the schedule without a next time, and Run
	// would fire the zero time over and over.
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%w: cron expression %q never fires", events.ErrInvalidTrigger, c.Expr)
	}
	if every, ok := strings.CutPrefix(c.Expr, "@every "); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			return nil, fmt.Errorf("%w: cron expression %q: @every needs at least 1s", events.ErrInvalidTrigger, c.Expr)
		}
	}
	loc := time.UTC
	if c.TZ != "" {
		if loc, err = time.LoadLocation(c.TZ); err != nil {
			return nil, fmt.Errorf("%w: time zone %q: %w (use an IANA name such as Europe/Paris)", events.ErrInvalidTrigger, c.TZ, err)
		}
	}
	if len(c.Data) > 0 && !json.Valid(c.Data) {
		return nil, fmt.Errorf("%w: cron data is not valid JSON", events.ErrInvalidTrigger)
	}
	return &Adapter{spec: spec, sched: sched, loc: loc, mem: mem, now: time.Now}, nil
}

// Run fires the trigger until ctx ends; it returns nil then.
func (a *Adapter) Run(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
	st := events.TriggerStatus{ID: a.spec.ID, State: events.StateRunning}
	report(st)
	if a.spec.Cron.CatchUp {
		if t, ok := a.missed(ctx); ok {
			a.fire(ctx, pub, report, &st, t)
		}
	}
	next := a.sched.Next(a.now().In(a.loc))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		a.fire(ctx, pub, report, &st, next)
		// The next time after the one fired, skipping any that passed while publishing.
		next = a.sched.Next(next)
		if now := a.now().In(a.loc); next.Before(now) {
			next = a.sched.Next(now)
		}
		timer.Reset(time.Until(next))
	}
}

// missed returns the most recent scheduled time after the remembered last fired time that is
// not after now.
func (a *Adapter) missed(ctx context.Context) (time.Time, bool) {
	if a.mem == nil {
		return time.Time{}, false
	}
	e, err := a.mem.Get(ctx, MemoryKey(a.spec.ID))
	if err != nil {
		return time.Time{}, false // never fired, or unreadable: nothing to catch up
	}
	last, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, false
	}
	now := a.now().In(a.loc)
	var found time.Time
	for t, i := a.sched.Next(last.In(a.loc)), 0; !t.IsZero() && !t.After(now) && i < maxCatchUpSteps; t, i = a.sched.Next(t), i+1 {
		found = t
	}
	return found, !found.IsZero()
}

// fire publishes the event of scheduled time t, retrying while the duplicate window still covers
// it, and reports the outcome.
func (a *Adapter) fire(ctx context.Context, pub trigger.Publisher, report trigger.Reporter, st *events.TriggerStatus, t time.Time) {
	ev, err := a.Event(t)
	if err != nil { // the spec was checked by New: cannot happen
		st.State, st.LastError = events.StateFailed, err.Error()
		report(*st)
		return
	}
	wait := retryInitial
	for {
		err = pub.Publish(ctx, a.spec.Function, ev)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		st.State, st.LastError = events.StateRetrying, fmt.Sprintf("tick %s: %v", t.UTC().Format(time.RFC3339), err)
		report(*st)
		if a.now().Sub(t) > retryFor {
			st.LastError = fmt.Sprintf("tick %s given up after %s: %v", t.UTC().Format(time.RFC3339), retryFor, err)
			report(*st)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
	st.State, st.LastEvent = events.StateRunning, t
	st.Events++
	if a.mem != nil {
		if _, err := a.mem.Put(ctx, MemoryKey(a.spec.ID), []byte(t.UTC().Format(time.RFC3339Nano))); err != nil && !errors.Is(err, context.Canceled) {
			st.LastError = fmt.Sprintf("remember last fired time: %v", err)
		}
	}
	report(*st)
}

// Event is the CloudEvent of the tick scheduled at t: the same for every process that fires it.
func (a *Adapter) Event(t time.Time) (event.Event, error) {
	ev := event.New()
	ev.SetID(EventID(a.spec.ID, t))
	ev.SetType(events.TypeCronTick)
	ev.SetSource("/sluice/cron/" + a.spec.ID)
	ev.SetTime(t)
	ev.SetExtension(events.ExtTrigger, events.TriggerCron)
	data := a.spec.Cron.Data
	if len(data) == 0 {
		var err error
		data, err = json.Marshal(map[string]string{
			"trigger": a.spec.ID, "function": a.spec.Function, "scheduled": t.UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			return ev, err
		}
	}
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return ev, fmt.Errorf("cron %s: data: %w", a.spec.ID, err)
	}
	return ev, nil
}

// idSpace is the UUID namespace of cron event ids.
var idSpace = uuid.MustParse("5c0b52a4-6f4e-4b8e-9a55-2a3c1d0e9f71")

// EventID is the id of the tick of trigger id scheduled at t: a name-based UUID, so every
// process computes the same one.
func EventID(id string, t time.Time) string {
	return uuid.NewSHA1(idSpace, []byte(id+"@"+strconv.FormatInt(t.UnixNano(), 10))).String()
}
