package events

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Event types sluice produces (docs/design.md §4). Object-storage events use the AWS S3 adapter's
// "com.amazonaws.s3.<eventName>".
const (
	TypeInvoke       = "dev.sluice.invoke"
	TypeHTTPRequest  = "dev.sluice.http.request"
	TypeCronTick     = "dev.sluice.cron.tick"
	TypeQueueMessage = "dev.sluice.queue.message"
	// TypeDestination is an invocation event made of another invocation's outcome
	// (DestinationRecord), sent to a function destination.
	TypeDestination = "dev.sluice.destination"
)

// Extension attributes sluice sets on invocation events.
const (
	ExtVersion  = "sluiceversion"  // the function version the event was resolved to
	ExtTrigger  = "sluicetrigger"  // the trigger kind: invoke, http, cron, queue, storage
	ExtDeadline = "sluicedeadline" // a synchronous caller's deadline, Unix milliseconds
	// ExtLogTail "1" asks for the tail of the attempt's log in the synchronous reply
	// (Result.LogTail), as Lambda's Invoke does for LogType Tail.
	ExtLogTail = "sluicelogtail"
)

// NATS headers beside the CloudEvent.
const (
	HeaderReply = "Sluice-Reply" // inbox a synchronous caller waits on
	// HeaderFresh on an event says its id was minted for it by the gateway, so nothing can be
	// recorded under that id before its first delivery: the worker skips reading its record then.
	HeaderFresh   = "Sluice-Fresh"
	HeaderOutcome = "Sluice-Outcome" // outcome of a synchronous reply
	headerCE      = "ce-"
	headerCEType  = "Content-Type"
)

// Headers of a synchronous reply beside HeaderOutcome (NewReply writes them, ParseReply reads
// them).
const (
	HeaderReplyVersion    = "Sluice-Version"     // the function version that ran
	HeaderReplyDurationMs = "Sluice-Duration-Ms" // the run's duration in milliseconds, 3 decimals
	HeaderReplyLogTail    = "Sluice-Log-Tail"    // Result.LogTail, base64, when the event asked for it
)

// LogTailBytes is how much of the end of an attempt's log a reply carries (Lambda's 4 KB).
const LogTailBytes = 4096

// ErrMalformed marks an event that is not a valid CloudEvent; it is never retried.
var ErrMalformed = errors.New("malformed cloudevent")

// NewMsg encodes a CloudEvent in binary mode on NATS headers ("ce-" prefix, per the CloudEvents
// NATS binding) for subject. The event id, as KeyToken(id), becomes Nats-Msg-Id, so JetStream's
// duplicate window absorbs a producer's retries. The event is validated first.
func NewMsg(subject string, ev event.Event) (*nats.Msg, error) {
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	m := nats.NewMsg(subject)
	h := m.Header
	h.Set(headerCE+"specversion", ev.SpecVersion())
	h.Set(headerCE+"id", ev.ID())
	h.Set(headerCE+"source", ev.Source())
	h.Set(headerCE+"type", ev.Type())
	if s := ev.Subject(); s != "" {
		h.Set(headerCE+"subject", s)
	}
	if t := ev.Time(); !t.IsZero() {
		if !encodableTime(t) {
			return nil, fmt.Errorf("%w: time %s: outside the years 0000 to 9999 in UTC", ErrMalformed, t)
		}
		h.Set(headerCE+"time", t.UTC().Format(time.RFC3339Nano))
	}
	if s := ev.DataSchema(); s != "" {
		h.Set(headerCE+"dataschema", s)
	}
	if ct := ev.DataContentType(); ct != "" {
		h.Set(headerCEType, ct)
	}
	for k, v := range ev.Extensions() {
		h.Set(headerCE+k, fmt.Sprint(v))
	}
	// A line break in a value would end its header and start another: a producer could set
	// any header of the bus's message (a reply inbox, a message id) through an attribute.
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("%w: %s holds a line break or NUL", ErrMalformed, k)
			}
		}
	}
	h.Set(nats.MsgIdHdr, KeyToken(ev.ID()))
	m.Data = ev.Data()
	return m, nil
}

// HeaderSafe is s as an attribute NewMsg takes: s itself, or, when it holds a control
// character (an object key, a message subject from outside), s URL-encoded.
func HeaderSafe(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return url.QueryEscape(s)
	}
	return s
}

// ParseMsg decodes and validates a binary-mode CloudEvent from NATS headers and body.
func ParseMsg(m *nats.Msg) (event.Event, error) {
	return ParseHeaders(m.Header, m.Data)
}

// ParseHeaders decodes and validates a binary-mode CloudEvent from headers and a body; it serves
// both core NATS and JetStream messages.
func ParseHeaders(h nats.Header, data []byte) (event.Event, error) {
	ev := event.New(h.Get(headerCE + "specversion"))
	if ev.SpecVersion() == "" {
		return ev, fmt.Errorf("%w: no ce-specversion header", ErrMalformed)
	}
	seen := make(map[string]bool, len(h))
	for k, vs := range h {
		if len(vs) == 0 || len(k) <= len(headerCE) || !strings.EqualFold(k[:len(headerCE)], headerCE) {
			continue
		}
		name, v := strings.ToLower(k[len(headerCE):]), vs[0]
		if strings.ContainsAny(v, "\r\n\x00") { // what NewMsg refuses to write, no reader takes
			return ev, fmt.Errorf("%w: ce-%s holds a line break or NUL", ErrMalformed, name)
		}
		if seen[name] { // two spellings of one attribute: which one holds would be left to chance
			return ev, fmt.Errorf("%w: ce-%s given twice", ErrMalformed, name)
		}
		seen[name] = true
		switch name {
		case "specversion":
		case "id":
			ev.SetID(v)
		case "source":
			ev.SetSource(v)
		case "type":
			ev.SetType(v)
		case "subject":
			ev.SetSubject(v)
		case "dataschema":
			ev.SetDataSchema(v)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return ev, fmt.Errorf("%w: ce-time %q: %w", ErrMalformed, v, err)
			}
			if !encodableTime(t) {
				return ev, fmt.Errorf("%w: ce-time %q: outside the years 0000 to 9999 in UTC", ErrMalformed, v)
			}
			ev.SetTime(t)
		default:
			ev.SetExtension(name, v)
		}
	}
	if len(data) > 0 {
		ev.DataEncoded = data
	}
	if ct := h.Get(headerCEType); ct != "" {
		ev.SetDataContentType(ct)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return ev, nil
}

// encodableTime reports whether t, in UTC, has the four-digit year RFC 3339 needs: a time read
// with an offset may fall outside them in UTC, and then its ce-time would not read back.
func encodableTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// Extension is ev's extension name (lower case, as extensions are kept) as text, and whether ev
// has it. It reads the one value: ev.Extensions() copies them all, on every call.
func Extension(ev event.Event, name string) (string, bool) {
	var v any
	var ok bool
	if ec, v1 := ev.Context.(*event.EventContextV1); v1 {
		v, ok = ec.Extensions[name]
	} else if ev.Context != nil {
		v, ok = ev.Extensions()[name]
	}
	if !ok {
		return "", false
	}
	if s, isString := v.(string); isString {
		return s, true
	}
	return fmt.Sprint(v), true
}

// EventVersion returns the sluiceversion extension of ev, 0 when absent or not a number.
func EventVersion(ev event.Event) int {
	v, ok := Extension(ev, ExtVersion)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// EventTrigger returns the sluicetrigger extension of ev, "invoke" when absent.
func EventTrigger(ev event.Event) string {
	if v, ok := Extension(ev, ExtTrigger); ok {
		return v
	}
	return "invoke"
}

// NewReply encodes the result of a synchronous invocation for the caller's inbox: the outcome in
// a header, the function's response (or its error as JSON) as the body.
func NewReply(inbox string, r Result) *nats.Msg {
	m := nats.NewMsg(inbox)
	m.Header.Set(HeaderOutcome, string(r.Outcome))
	m.Header.Set(HeaderReplyVersion, strconv.Itoa(r.Version))
	m.Header.Set(HeaderReplyDurationMs, strconv.FormatFloat(r.DurationMs, 'f', 3, 64))
	if r.LogTail != "" {
		m.Header.Set(HeaderReplyLogTail, base64.StdEncoding.EncodeToString([]byte(r.LogTail)))
	}
	if r.Outcome == OutcomeOK {
		m.Data = r.Payload
		return m
	}
	m.Data = marshalError(r.Error, r.Outcome)
	return m
}

// ReplyOf is what a synchronous caller gets of an attempt's result r, as ParseReply reads it off
// NewReply's message: for a caller beside the worker, in one process, that needs no message.
func ReplyOf(r Result) Result {
	out := Result{ID: r.ID, Function: r.Function, Outcome: r.Outcome, Version: r.Version,
		DurationMs: math.Round(r.DurationMs*1000) / 1000, LogTail: r.LogTail}
	if r.Outcome == OutcomeOK {
		out.Status, out.Payload = StatusSucceeded, r.Payload
		return out
	}
	out.Status, out.Error = StatusFailed, r.Error
	if out.Error == nil {
		out.Error = defaultError(r.Outcome)
	}
	return out
}

// ParseReply decodes a reply made by NewReply.
func ParseReply(fn, id string, m *nats.Msg) (Result, error) {
	r := Result{ID: id, Function: fn, Outcome: Outcome(m.Header.Get(HeaderOutcome))}
	if r.Outcome == "" {
		return r, fmt.Errorf("%w: reply without %s header", ErrMalformed, HeaderOutcome)
	}
	r.Version, _ = strconv.Atoi(m.Header.Get(HeaderReplyVersion))
	r.DurationMs, _ = strconv.ParseFloat(m.Header.Get(HeaderReplyDurationMs), 64)
	if h := m.Header.Get(HeaderReplyLogTail); h != "" {
		if b, err := base64.StdEncoding.DecodeString(h); err == nil {
			r.LogTail = string(b)
		}
	}
	if r.Outcome == OutcomeOK {
		r.Status, r.Payload = StatusSucceeded, m.Data
		return r, nil
	}
	r.Status, r.Error = StatusFailed, unmarshalError(m.Data, r.Outcome)
	return r, nil
}
