package worker

import (
	"testing"
	"time"

	"sluice.dev/events"
)

func TestTooOldEventsAreDeadLetteredUnrun(t *testing.T) {
	now := time.Now()
	v := events.Version{Function: "f", Version: 2, Config: events.Config{MaxEventAge: events.Duration(time.Minute)}}
	old := job{id: "a", fn: "f", enqueued: now.Add(-2 * time.Minute)}
	o, ok := tooOld(old, v, now)
	if !ok || o.res.Outcome != events.OutcomeRejected || o.res.Error.Type != eventAgeExceeded || condition(o.res) != events.ConditionEventAgeExceeded {
		t.Fatalf("an event 2m old for a 1m max age: %v %+v", ok, o)
	}
	if _, ok := tooOld(job{enqueued: now.Add(-30 * time.Second)}, v, now); ok {
		t.Fatal("an event younger than its max age is too old")
	}
	if _, ok := tooOld(job{enqueued: now.Add(-2 * time.Minute), reply: "inbox"}, v, now); ok {
		t.Fatal("a synchronous call is held to the async max age")
	}
	if _, ok := tooOld(job{enqueued: now.Add(-5 * time.Hour)}, events.Version{}, now); ok {
		t.Fatal("an event within the default 6h is too old")
	}
}
