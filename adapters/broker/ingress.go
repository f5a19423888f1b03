package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// Limits of what comes in.
const (
	MaxBatch = 1000                        // events in one batch
	MaxBody  = events.MaxPayload + 256<<10 // bytes of one request or message
	maxAttr  = 4096                        // bytes of one attribute
	ctBatch  = "application/cloudevents-batch+json"
	ctJSON   = "application/cloudevents+json"
)

// Errors of reading events; both mean the sender's mistake.
var (
	ErrBadEvent = errors.New("not a valid CloudEvent")
	ErrTooLarge = errors.New("too large")
)

// ReadHTTP reads the events of a request in any CloudEvents HTTP mode: binary (ce- headers
// and the data as the body), structured (application/cloudevents+json), or batch
// (application/cloudevents-batch+json). Every event is checked (Check); one bad event refuses
// them all.
func ReadHTTP(r *http.Request) ([]event.Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: a body over %d bytes", ErrTooLarge, MaxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var evs []event.Event
	if mediaType(r.Header.Get("Content-Type")) == ctBatch {
		evs, err = cehttp.NewEventsFromHTTPRequest(r)
	} else {
		var ev *event.Event
		if ev, err = cehttp.NewEventFromHTTPRequest(r); err == nil {
			evs = []event.Event{*ev}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	return checkAll(evs)
}

// ReadNATS reads the events of a message in the CloudEvents NATS modes: binary (ce- headers),
// structured (Content-Type application/cloudevents+json), or a batch
// (application/cloudevents-batch+json).
func ReadNATS(m *nats.Msg) ([]event.Event, error) {
	if len(m.Data) > MaxBody {
		return nil, fmt.Errorf("%w: a message over %d bytes", ErrTooLarge, MaxBody)
	}
	var evs []event.Event
	switch ct := mediaType(m.Header.Get("Content-Type")); {
	case ct == ctBatch:
		if err := json.Unmarshal(m.Data, &evs); err != nil { // a JSON array of structured events
			return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
		}
	case ct == ctJSON || m.Header.Get("ce-specversion") == "" && bytes.HasPrefix(bytes.TrimSpace(m.Data), []byte("{")):
		var ev event.Event
		if err := ev.UnmarshalJSON(m.Data); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
		}
		evs = []event.Event{ev}
	default:
		ev, err := events.ParseHeaders(m.Header, m.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
		}
		evs = []event.Event{ev}
	}
	return checkAll(evs)
}

func checkAll(evs []event.Event) ([]event.Event, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("%w: no event", ErrBadEvent)
	}
	if len(evs) > MaxBatch {
		return nil, fmt.Errorf("%w: %d events in a batch, at most %d", ErrTooLarge, len(evs), MaxBatch)
	}
	for i, ev := range evs {
		if err := Check(ev); err != nil {
			if len(evs) > 1 {
				return nil, fmt.Errorf("event %d of the batch: %w", i+1, err)
			}
			return nil, err
		}
	}
	return evs, nil
}

// Check refuses an event that may not come in: one the CloudEvents spec refuses (no id,
// source, type, or a version other than 1.0), an attribute over 4 KiB or holding a control
// character (a line break would start another header on the bus), data over the payload limit,
// or a time a CloudEvent cannot carry.
func Check(ev event.Event) error {
	if ev.SpecVersion() != event.CloudEventsVersionV1 {
		return fmt.Errorf("%w: specversion %q: sluice takes 1.0", ErrBadEvent, ev.SpecVersion())
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	attrs := map[string]string{"id": ev.ID(), "source": ev.Source(), "type": ev.Type(), "subject": ev.Subject(),
		"datacontenttype": ev.DataContentType(), "dataschema": ev.DataSchema()}
	for name, v := range ev.Extensions() {
		attrs["extension "+name] = fmt.Sprint(v)
	}
	for name, v := range attrs {
		if len(v) > maxAttr {
			return fmt.Errorf("%w: %s of %d bytes, at most %d", ErrBadEvent, name, len(v), maxAttr)
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			return fmt.Errorf("%w: %s holds a control character", ErrBadEvent, name)
		}
	}
	if len(ev.Data()) > events.MaxPayload {
		return fmt.Errorf("%w: data of %d bytes, at most %d", ErrTooLarge, len(ev.Data()), events.MaxPayload)
	}
	if t := ev.Time(); !t.IsZero() && (t.UTC().Year() < 0 || t.UTC().Year() > 9999) {
		return fmt.Errorf("%w: time %s", ErrBadEvent, t)
	}
	return nil
}

// own reports the extensions sluice sets on invocation events, which no sender may set: they
// are dropped from what comes in, except the hop count (events.ExtHops).
func own(name string) bool {
	return strings.HasPrefix(name, "sluice") && name != events.ExtHops
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}
