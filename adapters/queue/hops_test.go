package queue

import (
	"testing"

	"sluice.dev/events"
)

// TestHopsPassThroughAQueueTrigger: a message a function's outcome was sent as (to a NATS
// destination) keeps its count of destinations in the event a trigger makes of it, capped at
// events.MaxHops, so a loop through a queue trigger stops as one through functions does.
func TestHopsPassThroughAQueueTrigger(t *testing.T) {
	s, err := parseURL("nats://127.0.0.1:4222/alerts")
	if err != nil {
		t.Fatal(err)
	}
	a := &Adapter{spec: events.Trigger{ID: "t", Function: "fn", Kind: events.TriggerQueue}, src: s}
	for _, c := range []struct {
		headers map[string][]string
		want    any
	}{
		{map[string][]string{events.HeaderHops: {"3"}}, "3"},
		{map[string][]string{"sluice-hops": {"99"}}, "8"},
		{map[string][]string{events.HeaderHops: {"-2"}}, nil},
		{map[string][]string{events.HeaderHops: {"x"}}, nil},
		{nil, nil},
	} {
		ev, err := a.newEvent(item{id: "m1", subject: "alerts", data: []byte(`{}`), headers: c.headers})
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Extensions()[events.ExtHops]; got != c.want {
			t.Errorf("headers %v: hops %v, want %v", c.headers, got, c.want)
		}
	}
}
