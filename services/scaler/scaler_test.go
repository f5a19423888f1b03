package scaler

import (
	"testing"
	"time"

	"sluice.dev/events"
)

func TestDesired(t *testing.T) {
	cfg := events.Config{Min: 1, Max: 5, Concurrency: 2, IdleTimeout: events.Duration(time.Minute)}
	cases := []struct {
		lag, active, prev int
		idle              time.Duration
		want              int
		reason            string
	}{
		{lag: 0, prev: 0, want: 1, reason: "min"},
		{lag: 3, prev: 1, want: 2, reason: "lag"},                     // ceil(3/2)
		{lag: 100, prev: 2, want: 5, reason: "max"},                   // capped
		{lag: 0, prev: 5, idle: time.Second, want: 5, reason: "idle"}, // not idle long enough
		{lag: 0, prev: 5, idle: 2 * time.Minute, want: 1, reason: "min"},
		{lag: 2, prev: 4, idle: 2 * time.Minute, want: 1, reason: "lag"},
		{lag: 0, active: 3, prev: 0, want: 3, reason: "active"},                        // calls that never waited
		{lag: 2, active: 3, prev: 0, want: 3, reason: "active"},                        // more active than the lag needs
		{lag: 8, active: 3, prev: 0, want: 4, reason: "lag"},                           // the lag needs more
		{lag: 0, active: 9, prev: 0, want: 5, reason: "max"},                           // capped
		{lag: 0, active: 2, prev: 5, idle: 2 * time.Minute, want: 2, reason: "active"}, // down to what runs
	}
	for _, c := range cases {
		got, reason := Desired(c.lag, c.active, cfg, c.prev, c.idle)
		if got != c.want || reason != c.reason {
			t.Errorf("Desired(lag %d, active %d, prev %d, idle %s) = %d %s, want %d %s", c.lag, c.active, c.prev, c.idle, got, reason, c.want, c.reason)
		}
	}
	zero := events.Config{Max: 10, Concurrency: 1, IdleTimeout: events.Duration(time.Minute)}
	if got, _ := Desired(0, 0, zero, 0, time.Hour); got != 0 {
		t.Errorf("idle function with min 0 wants %d instances, want 0", got)
	}
}
