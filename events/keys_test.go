package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// outsideIDs are ids as producers send them: plain ones, and ones that are no key or token.
var outsideIDs = []string{
	"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "orders-42", "a_b",
	"order:1 x/é*", "order:1", "a b", "ünïcode", "*", ">", "a.b", ".", "", "=abc", "tab\there",
	strings.Repeat("x", events.MaxPlainKey), strings.Repeat("x", events.MaxPlainKey+1),
	strings.Repeat("日本", 5000),
}

func TestKeyTokenKeepsPlainIDsAndEncodesTheRest(t *testing.T) {
	seen := map[string]string{}
	for _, id := range outsideIDs {
		k := events.KeyToken(id)
		plain := id != "" && len(id) <= events.MaxPlainKey && strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
		if plain && k != id {
			t.Errorf("KeyToken(%q) = %q, want the id itself", id, k)
		}
		if !plain && (!strings.HasPrefix(k, "=") || len(k) != 44) {
			t.Errorf("KeyToken(%q) = %q, want = and 43 characters of hash", id, k)
		}
		if strings.ContainsAny(k, ".*> \t") {
			t.Errorf("KeyToken(%q) = %q is no subject token", id, k)
		}
		if other, ok := seen[k]; ok {
			t.Errorf("KeyToken(%q) = KeyToken(%q) = %q", id, other, k)
		}
		seen[k] = id
		if events.KeyToken(id) != k {
			t.Errorf("KeyToken(%q) is not stable", id)
		}
	}
}

// Every id's token is a key sluice_results takes and a message id the invocation stream dedupes
// by, and the event keeps the id as it came.
func TestKeyTokensAreKeysAndMessageIDsOnTheBus(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range outsideIDs {
		if _, err := kv.Put(ctx, events.ResultKey(id), []byte(`{}`)); err != nil {
			t.Errorf("result key of %q: %v", id, err)
		}
		if _, err := kv.Put(ctx, events.HandbackKey(id, 2), []byte(`1`)); err != nil {
			t.Errorf("handback key of %q: %v", id, err)
		}
		if id == "" {
			continue // no event without an id
		}
		ev := event.New()
		ev.SetID(id)
		ev.SetSource("/test")
		ev.SetType(events.TypeInvoke)
		m, err := events.NewMsg(events.InvokeSubject("keys"), ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(nats.MsgIdHdr); got != events.KeyToken(id) {
			t.Errorf("Nats-Msg-Id of %q = %q", id, got)
		}
		for range 2 {
			ack, err := bus.JS.PublishMsg(ctx, m)
			if err != nil {
				t.Fatalf("publish %q: %v", id, err)
			}
			back, err := bus.JS.Stream(ctx, events.StreamInvoke)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := back.GetMsg(ctx, ack.Sequence)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := events.ParseHeaders(raw.Header, raw.Data)
			if err != nil || parsed.ID() != strings.TrimSpace(id) && parsed.ID() != id {
				t.Errorf("event id %q came back as %q (%v)", id, parsed.ID(), err)
			}
		}
	}
	s, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(outsideIDs) - 1); info.State.Msgs != want {
		t.Errorf("%d events stored, want %d: each id once", info.State.Msgs, want)
	}
}

func TestCutErrorKeepsTheStartAndSaysHowMuchWasCut(t *testing.T) {
	e := &events.FunctionError{Type: "Exception", Message: strings.Repeat("<", 1100000), Trace: []string{"  File a", "  File b"}}
	c := e.Cut(events.RecordErrorLimits())
	kept := strings.Count(c.Message, "<")
	if want := strings.Repeat("<", kept) + "… (" + itoa(1100000-kept) + " of 1100000 bytes cut)"; c.Message != want || len(c.Message) > events.MaxErrorMessage || kept < events.MaxErrorMessage-64 {
		t.Fatalf("cut message of %d bytes ends %q", len(c.Message), c.Message[len(c.Message)-40:])
	}
	if c.Type != "Exception" || len(c.Trace) != 2 || len(e.Message) != 1100000 {
		t.Fatalf("cut %+v, original changed: %d", c, len(e.Message))
	}
	if again := c.Cut(events.RecordErrorLimits()); again != c {
		t.Error("a cut error was cut again")
	}
	// Cut further, it still says how much of the original is missing.
	h := c.Cut(events.HeaderErrorLimits())
	if kept := strings.Count(h.Message, "<"); len(h.Message) > events.MaxHeaderErrorMessage || !strings.HasSuffix(h.Message, "… ("+itoa(1100000-kept)+" of 1100000 bytes cut)") {
		t.Errorf("cut twice: %q", h.Message)
	}
	if small := (&events.FunctionError{Type: "E", Message: "m"}); small.Cut(events.RecordErrorLimits()) != small {
		t.Error("an error within the limits was copied")
	}

	// Whole characters only, and a trace past its size or frame count ends with a marker frame.
	u := &events.FunctionError{Type: strings.Repeat("é", 2000), Message: "m"}
	for range 3000 {
		u.Trace = append(u.Trace, strings.Repeat("f", 200))
	}
	for _, l := range []events.ErrorLimits{events.HeaderErrorLimits(), events.RecordErrorLimits()} {
		c = u.Cut(l)
		if !utf8.ValidString(c.Type) || !strings.HasSuffix(c.Type, " of 4000 bytes cut)") || len(c.Type) > l.Type {
			t.Errorf("cut type %q", c.Type)
		}
		last, n := c.Trace[len(c.Trace)-1], 0
		for _, f := range c.Trace {
			n += len(f)
		}
		if !strings.HasPrefix(last, "… (") || !strings.Contains(last, "more frames") || len(c.Trace) > l.Frames || n > l.Trace {
			t.Errorf("%d frames of %d bytes, last %q", len(c.Trace), n, last)
		}
		if c.Cut(l) != c {
			t.Errorf("a cut trace was cut again")
		}
	}
	if (*events.FunctionError)(nil).Cut(events.RecordErrorLimits()) != nil {
		t.Error("nil error cut to something")
	}
}

// The worst error a function can post (6 MiB of characters JSON escapes sixfold) makes a record
// that fits the results bucket, and a dead letter header of a few KiB.
func TestEveryResultRecordFitsTheBucket(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	kv, err := bus.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	worst := strings.Repeat("\x01", 3<<20)
	e := &events.FunctionError{Type: worst[:1<<20], Message: worst, Trace: []string{worst, worst}}
	for i, r := range []events.Result{
		{ID: "err", Status: events.StatusFailed, Error: e},
		{ID: "json", Status: events.StatusSucceeded, Payload: []byte(`"` + strings.Repeat("a", events.MaxPayload-2) + `"`)},
		{ID: "text", Status: events.StatusSucceeded, Payload: []byte(strings.Repeat("\x01", events.MaxPayload))},
	} {
		b, err := events.EncodeResult(r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(b) > events.MaxRecord {
			t.Fatalf("record %d: %d bytes", i, len(b))
		}
		if _, err := kv.Put(ctx, events.ResultKey(r.ID), b); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		var back events.Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		switch r.ID {
		case "err":
			if !strings.Contains(back.Error.Message, "bytes cut)") || len(back.Error.Message) > events.MaxErrorMessage+64 {
				t.Errorf("error message of %d bytes", len(back.Error.Message))
			}
		case "json":
			if len(back.Payload) != events.MaxPayload || back.PayloadOmitted != 0 {
				t.Errorf("a JSON response of the largest size was not kept: %d bytes", len(back.Payload))
			}
		case "text":
			if back.Payload != nil || back.PayloadOmitted == 0 {
				t.Errorf("a response escaping past the limit: kept %d bytes, omitted %d", len(back.Payload), back.PayloadOmitted)
			}
		}
	}
	if h := events.HeaderError(e); len(h) > 32<<10 {
		t.Errorf("dead letter error header of %d bytes", len(h))
	}
	if h := events.HeaderError(&events.FunctionError{Type: "E", Message: "a < b & c"}); h != `{"errorType":"E","errorMessage":"a < b & c"}` {
		t.Errorf("header %s", h)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
