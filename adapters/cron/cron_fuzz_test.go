package cron

import (
	"errors"
	"testing"
	"time"

	"sluice.dev/events"
)

// FuzzCronSpec checks cron trigger specs as the API does when one is added: a refusal is
// ErrInvalidTrigger; an accepted schedule fires, later and later, and every tick makes an event
// that travels on the bus and decodes to the same id.
func FuzzCronSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, expr, tz string, data []byte) {
		spec := events.Trigger{ID: "t1", Function: "job", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: expr, TZ: tz, Data: data}}
		a, err := newAdapter(spec, nil)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidTrigger) {
				t.Fatalf("error %v is not ErrInvalidTrigger", err)
			}
			return
		}
		from := time.Date(2026, 3, 29, 1, 30, 0, 0, a.loc) // the night Europe's summer time starts
		prev := from
		for range 3 {
			next := a.sched.Next(prev)
			if next.IsZero() {
				t.Fatalf("%q (tz %q) was accepted and has no run after %s", expr, tz, prev)
			}
			if !next.After(prev) {
				t.Fatalf("%q: the run after %s is %s", expr, prev, next)
			}
			ev, err := a.Event(next)
			if err != nil {
				t.Fatalf("event of %s: %v", next, err)
			}
			m, err := events.NewMsg(events.InvokeSubject("job"), ev)
			if err != nil {
				t.Fatalf("event of %s: %v", next, err)
			}
			back, err := events.ParseMsg(m)
			if err != nil || back.ID() != EventID("t1", next) || !back.Time().Equal(next) {
				t.Fatalf("event of %s decodes as %v, %v", next, back, err)
			}
			prev = next
		}
	})
}

// Found by FuzzCronSpec: a time zone prefix with nothing after it panicked in the parser, and a
// date that never comes was accepted, leaving Run to fire the zero time in a loop.
func TestCronSpecFindings(t *testing.T) {
	for _, expr := range []string{"TZ=UTC", "CRON_TZ=Europe/Paris", "0 0 0 30 2 *", "0 0 31 4 *"} {
		spec := events.Trigger{ID: "t1", Function: "job", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: expr}}
		if _, err := New(spec); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%q: %v, want ErrInvalidTrigger", expr, err)
		}
	}
	spec := events.Trigger{ID: "t1", Function: "job", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: "CRON_TZ=Asia/Tokyo 0 9 * * 1-5"}}
	if _, err := New(spec); err != nil {
		t.Errorf("a time zone prefix with fields: %v", err)
	}
}
