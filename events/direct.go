package events

import (
	"time"

	"github.com/nats-io/nats.go"
)

// The direct path of a synchronous call: a gateway first offers the call's event on
// DirectSubject(fn), a plain NATS publish that nothing stores, to the workers that serve fn (one
// queue group, DirectQueue). A worker with a free warm instance of the event's version runs it
// there and then and answers on the caller's inbox (HeaderReply) as on the durable path; one
// without answers DirectBusy at once, and the gateway stores the event in SLUICE_INVOKE instead,
// as if there were no direct path. A worker that runs a call longer than a moment says so with
// DirectRunning every DirectBeat, so a gateway that hears nothing for DirectSilence knows the
// worker died or never had the call, and stores the event: the call is then run by the durable
// path, at least once, as every event is.

// DirectSubject is where workers take fn's synchronous calls straight from a gateway.
func DirectSubject(fn string) string { return subjectDirect + fn }

// DirectQueue is the queue group of the workers serving fn on DirectSubject(fn).
func DirectQueue(fn string) string { return "direct-" + fn }

// HeaderDirect carries a worker's word on a direct call that is not its answer.
const HeaderDirect = "Sluice-Direct"

// A worker's words on a direct call (HeaderDirect).
const (
	DirectBusy    = "busy"    // no free warm instance here: store the event instead
	DirectRunning = "running" // the call runs here still
)

// Direct path timing: a worker says DirectRunning first after DirectFirstBeat and then every
// DirectBeat while a direct call runs; a gateway that hears nothing for DirectSilence stores the
// event.
const (
	DirectFirstBeat = 250 * time.Millisecond
	DirectBeat      = time.Second
	DirectSilence   = 5 * time.Second
)

// NewDirectWord makes a worker's word (DirectBusy, DirectRunning) on the caller's inbox.
func NewDirectWord(inbox, word string) *nats.Msg {
	m := nats.NewMsg(inbox)
	m.Header.Set(HeaderDirect, word)
	return m
}

// DirectWord returns the worker's word carried by m, "" for an answer. The server's answer that
// nothing takes DirectSubject (status 503, no responders) reads as DirectBusy.
func DirectWord(m *nats.Msg) string {
	if w := m.Header.Get(HeaderDirect); w != "" {
		return w
	}
	if m.Header.Get("Status") == "503" && len(m.Data) == 0 {
		return DirectBusy
	}
	return ""
}
