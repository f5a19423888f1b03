package events_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

func TestDeadLetterRoundTrip(t *testing.T) {
	h := nats.Header{}
	h.Set("ce-id", "ev-1")
	h.Set("ce-type", "dev.sluice.invoke")
	h.Set("ce-source", "test")
	h.Set("ce-time", "2025-01-02T03:04:05Z")
	h.Set(events.HeaderRedrive, "1")
	h.Set(events.HeaderReply, "_INBOX.x")
	h.Set(nats.MsgIdHdr, "ev-1")
	at := time.Date(2025, 1, 2, 3, 4, 6, 0, time.FixedZone("x", 3600))
	res := events.Result{Outcome: events.OutcomeError, Error: &events.FunctionError{Type: "ValueError", Message: "no"}}
	m := events.NewDeadLetter(events.Exhausted{Function: "hello", Header: h, Data: []byte(`{"a":1}`),
		ID: "ev-1", Redrive: 1, Seq: 7, Attempts: 3, Result: res, At: at})

	// The headers as the worker has always written them.
	if m.Subject != "sluice.dlq.hello" {
		t.Errorf("subject = %q", m.Subject)
	}
	for k, want := range map[string]string{
		"Sluice-Error":     `{"errorType":"ValueError","errorMessage":"no"}`,
		"Sluice-Outcome":   string(events.OutcomeError),
		"Sluice-Attempts":  "3",
		"Sluice-Failed-At": "2025-01-02T02:04:06Z",
		"Nats-Msg-Id":      "dlq-ev-1.1",
		"Sluice-Reply":     "",
		"ce-id":            "ev-1",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	if id := events.EventID(m.Header); id != "ev-1" {
		t.Errorf("event id = %q", id)
	}
	if id := events.EventID(nats.Header{}); id != "" {
		t.Errorf("event id of no headers = %q", id)
	}

	d := events.ParseDeadLetter("hello", 9, m.Header, m.Data, true)
	if d.ID != "ev-1" || d.Type != "dev.sluice.invoke" || d.Attempts != 3 || d.Redriven != 1 ||
		d.Outcome != events.OutcomeError || !d.FailedAt.Equal(at) || d.Size != 7 || string(d.Data) != `{"a":1}` {
		t.Errorf("parsed = %+v", d)
	}
	if d.Error == nil || d.Error.Type != "ValueError" || d.Error.Message != "no" {
		t.Errorf("parsed error = %+v", d.Error)
	}

	events.DropDeadLetterError(m)
	if d := events.ParseDeadLetter("hello", 9, m.Header, m.Data, false); d.Error != nil || d.Attempts != 3 {
		t.Errorf("without the error header: %+v", d)
	}
}

func TestDeadLetterWithoutID(t *testing.T) {
	m := events.NewDeadLetter(events.Exhausted{Function: "hello", Header: nats.Header{}, Seq: 42,
		Result: events.Result{Outcome: events.OutcomeRejected}, At: time.Now()})
	if got := m.Header.Get(nats.MsgIdHdr); got != "dlq-seq-42" {
		t.Errorf("Nats-Msg-Id = %q", got)
	}
}
