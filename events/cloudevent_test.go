package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func sample() event.Event {
	ev := event.New()
	ev.SetID("abc-1")
	ev.SetSource("/sluice/test")
	ev.SetType(events.TypeInvoke)
	ev.SetSubject("thing")
	ev.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	ev.SetExtension(events.ExtVersion, "3")
	_ = ev.SetData("application/json", []byte(`{"name":"Ada"}`))
	return ev
}

func TestRoundTripThroughJetStream(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	m, err := events.NewMsg(events.InvokeSubject("echo"), sample())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(nats.MsgIdHdr); got != "abc-1" {
		t.Fatalf("Nats-Msg-Id = %q, want the event id", got)
	}
	if _, err := bus.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	// The same id again is absorbed by the duplicate window.
	m2, _ := events.NewMsg(events.InvokeSubject("echo"), sample())
	ack, err := bus.JS.PublishMsg(ctx, m2)
	if err != nil || !ack.Duplicate {
		t.Fatalf("second publish: ack=%+v err=%v, want a duplicate", ack, err)
	}
	stream, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetLastMsgForSubject(ctx, events.InvokeSubject("echo"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.ParseHeaders(raw.Header, raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if got.ID() != want.ID() || got.Source() != want.Source() || got.Type() != want.Type() ||
		got.Subject() != want.Subject() || !got.Time().Equal(want.Time()) ||
		string(got.Data()) != string(want.Data()) || got.DataContentType() != "application/json" {
		t.Fatalf("round trip:\n got %v\nwant %v", got, want)
	}
	if v := events.EventVersion(got); v != 3 {
		t.Fatalf("EventVersion = %d, want 3", v)
	}
	if tr := events.EventTrigger(got); tr != "invoke" {
		t.Fatalf("EventTrigger = %q, want invoke", tr)
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string]nats.Header{
		"no specversion": {"ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}},
		"no id":          {"ce-specversion": {"1.0"}, "ce-source": {"/s"}, "ce-type": {"t"}},
		"no type":        {"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}},
		"bad time":       {"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}, "ce-time": {"yesterday"}},
	}
	for name, h := range cases {
		if _, err := events.ParseHeaders(h, nil); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := events.NewMsg("s", event.New()); !errors.Is(err, events.ErrMalformed) {
		t.Errorf("NewMsg of an empty event: err = %v, want ErrMalformed", err)
	}
	// A line break in a value would start another header of the bus's message.
	for name, set := range map[string]func(*event.Event){
		"type":      func(e *event.Event) { e.SetType("t\r\nSluice-Reply: _INBOX.x") },
		"subject":   func(e *event.Event) { e.SetSubject("a\nb") },
		"extension": func(e *event.Event) { e.SetExtension("tenant", "a\nNats-Msg-Id: x") },
	} {
		ev := event.New()
		ev.SetID("1")
		ev.SetSource("/s")
		ev.SetType("t")
		set(&ev)
		if _, err := events.NewMsg("s", ev); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("NewMsg with a line break in its %s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestReply(t *testing.T) {
	ok := events.NewReply("inbox", events.Result{Outcome: events.OutcomeOK, Payload: []byte(`{"a":1}`), Version: 2})
	r, err := events.ParseReply("f", "id", ok)
	if err != nil || r.Status != events.StatusSucceeded || string(r.Payload) != `{"a":1}` || r.Version != 2 {
		t.Fatalf("ok reply = %+v, %v", r, err)
	}
	bad := events.NewReply("inbox", events.Result{Outcome: events.OutcomeError, Error: &events.FunctionError{Type: "ValueError", Message: "boom"}})
	r, err = events.ParseReply("f", "id", bad)
	if err != nil || r.Status != events.StatusFailed || r.Error.Type != "ValueError" || r.Error.Message != "boom" {
		t.Fatalf("error reply = %+v, %v", r, err)
	}
	to := events.NewReply("inbox", events.Result{Outcome: events.OutcomeTimeout})
	r, _ = events.ParseReply("f", "id", to)
	if r.Error == nil || r.Error.Type != "timeout" {
		t.Fatalf("timeout reply error = %+v", r.Error)
	}
	if _, err := events.ParseReply("f", "id", nats.NewMsg("x")); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("reply without outcome: %v", err)
	}
}

func TestRawJSON(t *testing.T) {
	if got := string(events.RawJSON([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Fatalf("RawJSON(object) = %s", got)
	}
	if got := string(events.RawJSON([]byte(`hello`))); got != `"hello"` {
		t.Fatalf("RawJSON(text) = %s", got)
	}
	if events.RawJSON(nil) != nil {
		t.Fatal("RawJSON(nil) != nil")
	}
}

// TestReplyCarriesTheLogTail: a synchronous reply carries the tail of the attempt's log when it
// has one, and ReplyOf keeps it.
func TestReplyCarriesTheLogTail(t *testing.T) {
	tail := "START RequestId: a Version: 1\nhé\nEND RequestId: a\n"
	for _, res := range []events.Result{
		{Outcome: events.OutcomeOK, Payload: []byte(`1`), LogTail: tail},
		{Outcome: events.OutcomeError, Error: &events.FunctionError{Type: "E", Message: "m"}, LogTail: tail},
	} {
		m := events.NewReply("inbox", events.ReplyOf(res))
		got, err := events.ParseReply("f", "a", m)
		if err != nil {
			t.Fatal(err)
		}
		if got.LogTail != tail {
			t.Fatalf("%s reply's tail = %q, want %q", res.Outcome, got.LogTail, tail)
		}
	}
	if m := events.NewReply("inbox", events.Result{Outcome: events.OutcomeOK}); m.Header.Get(events.HeaderReplyLogTail) != "" {
		t.Fatalf("a reply without a tail has the header %q", m.Header.Get(events.HeaderReplyLogTail))
	}
}

// Extension reads one extension as text, of whatever type it was set with, without copying the
// event's extensions.
func TestExtension(t *testing.T) {
	ev := event.New()
	ev.SetExtension(events.ExtVersion, 3)
	ev.SetExtension(events.ExtTrigger, "cron")
	if v, ok := events.Extension(ev, events.ExtVersion); !ok || v != "3" {
		t.Errorf("int extension = %q %v", v, ok)
	}
	if v, ok := events.Extension(ev, events.ExtTrigger); !ok || v != "cron" {
		t.Errorf("string extension = %q %v", v, ok)
	}
	if v, ok := events.Extension(ev, events.ExtOrderKey); ok || v != "" {
		t.Errorf("absent extension = %q %v", v, ok)
	}
	if events.EventVersion(ev) != 3 || events.EventTrigger(ev) != "cron" {
		t.Errorf("EventVersion %d, EventTrigger %q", events.EventVersion(ev), events.EventTrigger(ev))
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = events.Extension(ev, events.ExtTrigger)
		_, _ = events.Extension(ev, events.ExtOrderKey)
	}); n != 0 {
		t.Errorf("Extension allocates %v times per call", n)
	}
}
