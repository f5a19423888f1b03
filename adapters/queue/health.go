package queue

import (
	"sync"
	"time"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// reportEvery bounds how often a growing event count alone is reported.
const reportEvery = time.Second

// health keeps a trigger's status and reports it on every change of state, every error, and at
// most every reportEvery for new events. Safe for concurrent use.
type health struct {
	mu       sync.Mutex
	st       events.TriggerStatus
	report   trigger.Reporter
	reported time.Time
	wasUp    bool // running since the last resetRunning
}

func newHealth(id string, report trigger.Reporter) *health {
	if report == nil {
		report = func(events.TriggerStatus) {}
	}
	return &health{st: events.TriggerStatus{ID: id}, report: report}
}

// set changes the state; err (when not nil) becomes the last error.
func (h *health) set(state events.TriggerState, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if state == h.st.State && err == nil {
		return
	}
	h.st.State = state
	if err != nil {
		h.st.LastError = err.Error()
	}
	h.emit()
}

// running marks the source as consumed.
func (h *health) running() {
	h.mu.Lock()
	h.wasUp = true
	h.mu.Unlock()
	h.set(events.StateRunning, nil)
}

// resetRunning reports whether the source was running since the last call.
func (h *health) resetRunning() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	up := h.wasUp
	h.wasUp = false
	return up
}

// problem records an error about one message; the state stays.
func (h *health) problem(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.LastError = err.Error()
	h.emit()
}

// published counts one event stored on the bus.
func (h *health) published() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.Events++
	h.st.LastEvent = time.Now().UTC()
	if time.Since(h.reported) >= reportEvery {
		h.emit()
	}
}

// emit reports the status; h.mu is held.
func (h *health) emit() {
	h.st.Updated = time.Now().UTC()
	h.reported = h.st.Updated
	h.report(h.st)
}
