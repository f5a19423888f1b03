package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// fuzzHeader reads "Name: value" lines (split at the first colon, one space after it dropped,
// nothing else trimmed) into a NATS header, so that the fuzzer can spell names and values
// freely.
func fuzzHeader(text string) nats.Header {
	h := nats.Header{}
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(k, strings.TrimPrefix(v, " "))
		}
	}
	return h
}

// travels reports whether every value of h crosses the NATS wire unchanged.
func travels(h nats.Header) bool {
	for _, vs := range h {
		for _, v := range vs {
			if v != textproto.TrimString(v) || strings.ContainsAny(v, "\r\n") {
				return false
			}
		}
	}
	return true
}

// wire is h as nats.go puts it on the wire and the receiving end reads it back: values trimmed,
// CR and LF made spaces (nats.go's writeHeaderValue), then nats.DecodeHeadersMsg. It fails
// where nats.go would refuse to publish.
func wire(h nats.Header) (nats.Header, error) {
	var b bytes.Buffer
	b.WriteString("NATS/1.0\r\n")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range h[k] {
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(textproto.TrimString(v))
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return nats.DecodeHeadersMsg(b.Bytes())
}

// eventString is everything of ev that a consumer reads, in a stable form.
func eventString(ev event.Event) string {
	exts := ev.Extensions()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range exts {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "specversion=%q id=%q source=%q type=%q subject=%q dataschema=%q time=%s datacontenttype=%q data=%q",
		ev.SpecVersion(), ev.ID(), ev.Source(), ev.Type(), ev.Subject(), ev.DataSchema(),
		ev.Time().UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), ev.DataContentType(), ev.Data())
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(exts[k]))
	}
	return b.String()
}

// FuzzParseHeaders decodes binary-mode CloudEvents from any headers and body: a refusal is
// ErrMalformed, decoding is deterministic, and an accepted event encodes again with NewMsg into
// a message that decodes to the same event, in memory and through the NATS wire form.
func FuzzParseHeaders(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string, data []byte) {
		h := fuzzHeader(text)
		ev, err := events.ParseHeaders(h, data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		got := eventString(ev)
		for range 3 { // map order varies between runs
			again, err := events.ParseHeaders(h, data)
			if err != nil || eventString(again) != got {
				t.Fatalf("decoded differently:\n%s\n%s (%v)", got, eventString(again), err)
			}
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("an accepted event does not validate: %v", err)
		}
		_ = events.EventVersion(ev)
		_ = events.EventTrigger(ev)
		m, err := events.NewMsg("sluice.invoke.f", ev)
		if err != nil {
			t.Fatalf("NewMsg of an accepted event: %v", err)
		}
		back, err := events.ParseMsg(m)
		if err != nil {
			t.Fatalf("ParseMsg of NewMsg: %v\n%v", err, m.Header)
		}
		if eventString(back) != got {
			t.Fatalf("round trip:\n got %s\nwant %s", eventString(back), got)
		}
		wh, err := wire(m.Header)
		if err != nil {
			t.Fatalf("the headers of NewMsg do not travel: %v\n%q", err, m.Header)
		}
		if !travels(h) {
			return
		}
		received, err := events.ParseHeaders(wh, m.Data)
		if err != nil {
			t.Fatalf("the event does not decode after the wire: %v\n%q", err, wh)
		}
		if eventString(received) != got {
			t.Fatalf("through the wire:\n got %s\nwant %s", eventString(received), got)
		}
	})
}

// FuzzParseReply decodes synchronous replies: without an outcome it is ErrMalformed; otherwise a
// failure carries an error, and NewReply of a decoded result decodes to the same result.
func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, outcome, version, duration string, data []byte) {
		m := nats.NewMsg("inbox")
		m.Header.Set(events.HeaderOutcome, outcome)
		m.Header.Set("Sluice-Version", version)
		m.Header.Set("Sluice-Duration-Ms", duration)
		m.Data = data
		r, err := events.ParseReply("f", "id", m)
		if outcome == "" {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("reply without an outcome: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != events.OutcomeOK && r.Error == nil {
			t.Fatalf("outcome %q without an error", r.Outcome)
		}
		r2, err := events.ParseReply("f", "id", events.NewReply("inbox", r))
		if err != nil {
			t.Fatal(err)
		}
		r3, err := events.ParseReply("f", "id", events.NewReply("inbox", r2))
		if err != nil {
			t.Fatal(err)
		}
		if !sameResult(r2, r3) || r2.Outcome != r.Outcome || r2.Version != r.Version || !bytes.Equal(r2.Payload, r.Payload) {
			t.Fatalf("round trip:\n%+v\n%+v\n%+v", r, r2, r3)
		}
	})
}

func sameResult(a, b events.Result) bool {
	if a.Outcome != b.Outcome || a.Status != b.Status || a.Version != b.Version || !bytes.Equal(a.Payload, b.Payload) {
		return false
	}
	if a.DurationMs != b.DurationMs && !(math.IsNaN(a.DurationMs) && math.IsNaN(b.DurationMs)) {
		return false
	}
	if (a.Error == nil) != (b.Error == nil) {
		return false
	}
	return a.Error == nil || a.Error.Type == b.Error.Type && a.Error.Message == b.Error.Message && slices.Equal(a.Error.Trace, b.Error.Trace)
}

// FuzzDeadLetter reads SLUICE_DLQ records and makes their redrive messages: reading never
// fails, the data is shown as JSON, and a redriven event loses its version pin, deadline and
// reply inbox, counts one redrive more, and still decodes when the original did.
func FuzzDeadLetter(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string, data []byte, full bool) {
		h := fuzzHeader(text)
		d := events.ParseDeadLetter("f", 7, h, data, full)
		if d.Size != len(data) || d.Seq != 7 || d.Function != "f" {
			t.Fatalf("dead letter %+v", d)
		}
		if d.Error != nil && d.Error.Type == "" && d.Error.Message == "" {
			t.Fatalf("an empty error: %+v", d.Error)
		}
		if full && len(data) > 0 && !json.Valid(d.Data) {
			t.Fatalf("data %q shown as %q", data, d.Data)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("the dead letter does not encode: %v", err)
		}
		m := events.RedriveMsg("f", h, data, "redrive-1")
		if m.Subject != events.EventSubject("f", events.EventID(h)) || m.Header.Get(nats.MsgIdHdr) != "redrive-1" || !bytes.Equal(m.Data, data) {
			t.Fatalf("redrive message %+v", m)
		}
		for _, k := range []string{events.HeaderReply, events.HeaderDLQError, events.HeaderDLQOutcome, events.HeaderDLQAttempts, events.HeaderDLQTime} {
			if _, ok := m.Header[k]; ok {
				t.Fatalf("redrive message keeps %s: %q", k, m.Header)
			}
		}
		orig, err := events.ParseHeaders(h, data)
		if err != nil {
			return
		}
		ev, err := events.ParseMsg(m)
		if err != nil {
			t.Fatalf("a redriven event does not decode: %v\n%q", err, m.Header)
		}
		exts := ev.Extensions()
		if _, ok := exts[events.ExtVersion]; ok {
			t.Fatalf("redriven with its version pin: %q", m.Header)
		}
		if _, ok := exts[events.ExtDeadline]; ok {
			t.Fatalf("redriven with its deadline: %q", m.Header)
		}
		n, _ := strconv.Atoi(fmt.Sprint(orig.Extensions()[events.ExtRedrive]))
		if got := fmt.Sprint(exts[events.ExtRedrive]); got != strconv.Itoa(n+1) {
			t.Fatalf("redrive count %s after %d: %q", got, n, m.Header)
		}
		if ev.ID() != orig.ID() || ev.Type() != orig.Type() || ev.Source() != orig.Source() {
			t.Fatalf("redriven as another event:\n%s\n%s", eventString(ev), eventString(orig))
		}
	})
}

// FuzzRecordJSON decodes the records kept on the bus from any JSON: whatever decodes encodes
// again, and decoding that gives the same encoding (Duration and Alias have decoders of their
// own).
func FuzzRecordJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newRecord := range []func() any{
			func() any { return new(events.Function) }, func() any { return new(events.Version) },
			func() any { return new(events.Result) }, func() any { return new(events.Trigger) },
			func() any { return new(events.TriggerStatus) }, func() any { return new(events.Meter) },
			func() any { return new(events.LogLine) }, func() any { return new(events.DeadLetter) },
			func() any { return new(events.Duration) }, func() any { return new(events.Alias) },
		} {
			v := newRecord()
			if json.Unmarshal(b, v) != nil {
				continue
			}
			b1, err := json.Marshal(v)
			if err != nil {
				continue // a time outside years 0-9999 decodes but does not encode; nothing stores it
			}
			w := newRecord()
			if err := json.Unmarshal(b1, w); err != nil {
				t.Fatalf("%T: %s does not decode: %v (from %s)", v, b1, err, b)
			}
			b2, err := json.Marshal(w)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("%T: encoded %s, then %s (%v) (from %s)", v, b1, b2, err, b)
			}
		}
	})
}

// FuzzRedactURL hides the secrets of trigger URLs: where a URL has user information, what is
// shown of it is the marker (or the user and the marker), once redacted or twice, and Redacted
// and RedactText hide the same.
func FuzzRedactURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		red := events.RedactURL(raw)
		tr := events.Trigger{Queue: &events.QueueSpec{URL: raw}}
		if shown := tr.Redacted().Queue.URL; shown != red {
			t.Fatalf("Redacted shows %q, RedactURL %q", shown, red)
		}
		if text := tr.RedactText("dial " + raw + " failed"); strings.Contains(text, raw) && !strings.Contains(red, raw) {
			t.Fatalf("RedactText kept the URL: %q", text)
		}
		// The text between "://" and the last '@' is the user information when there is one.
		at := strings.LastIndex(raw, "@")
		start := strings.Index(raw, "://")
		if at < 0 || start < 0 || start > at || strings.ContainsAny(raw[start+3:at], "/?#") {
			return
		}
		for _, shown := range []string{red, events.RedactURL(red)} {
			at, start := strings.LastIndex(shown, "@"), strings.Index(shown, "://")
			if at < 0 || start < 0 || start > at {
				t.Fatalf("RedactURL(%q) = %q lost the user information", raw, shown)
			}
			if user := shown[start+3 : at]; user != events.SecretMarker && !strings.HasSuffix(user, ":"+events.SecretMarker) {
				t.Fatalf("RedactURL(%q) = %q shows the user information %q", raw, shown, user)
			}
		}
	})
}

// Found by FuzzParseHeaders: one attribute under two spellings (ce-id and Ce-Id) was decoded to
// whichever the map gave first, and a ce-time whose offset takes it before year 0 in UTC was
// accepted though NewMsg then wrote a year ParseHeaders refuses.
func TestParseHeadersFindings(t *testing.T) {
	base := "ce-specversion: 1.0\nce-source: /s\nce-type: t\n"
	for name, text := range map[string]string{
		"two spellings": base + "ce-id: 1\nCe-Id: 2",
		"year -1":       base + "ce-id: 1\nce-time: 0000-01-01T00:30:00+01:00",
		"year 10000":    base + "ce-id: 1\nce-time: 9999-12-31T23:30:00-01:00",
	} {
		if _, err := events.ParseHeaders(fuzzHeader(text), nil); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("/s")
	ev.SetType("t")
	ev.SetTime(time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)))
	if _, err := events.NewMsg("s", ev); !errors.Is(err, events.ErrMalformed) {
		t.Errorf("NewMsg of a time before year 0 in UTC: %v, want ErrMalformed", err)
	}
}

// Found by FuzzDeadLetter: ParseHeaders reads ce- names in any case, but a redrive dropped the
// version pin, the deadline and the redrive count only in lower case, so Ce-Sluiceversion
// survived it.
func TestRedriveMixedCase(t *testing.T) {
	h := fuzzHeader("ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\nCe-SluiceVersion: 4\nCE-SLUICEDEADLINE: 1\nCe-Sluiceredrive: 5")
	ev, err := events.ParseMsg(events.RedriveMsg("f", h, nil, "r"))
	if err != nil {
		t.Fatal(err)
	}
	exts := ev.Extensions()
	if _, ok := exts[events.ExtVersion]; ok {
		t.Errorf("the version pin survived: %v", exts)
	}
	if _, ok := exts[events.ExtDeadline]; ok {
		t.Errorf("the deadline survived: %v", exts)
	}
	if got := fmt.Sprint(exts[events.ExtRedrive]); got != "6" {
		t.Errorf("redrive count %s, want 6", got)
	}
}
