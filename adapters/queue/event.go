package queue

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/adapters/batch"
	"sluice.dev/events"
)

// ExtHeaders is the extension carrying a message's headers as a JSON object of string lists.
const ExtHeaders = "sluiceheaders"

// maxHeaders bounds the JSON of a message's headers.
const maxHeaders = 32 << 10

// item is one source message, the same for every kind of queue.
type item struct {
	id          string
	subject     string
	data        []byte
	contentType string
	headers     map[string][]string
	time        time.Time
	routingKey  string // AMQP's
}

// hopsOf reads the destinations a message came through (events.HeaderHops, sent with a
// function's outcome to a NATS destination), so a trigger on that subject does not start the
// count again and a loop through it stops.
func hopsOf(headers map[string][]string) int {
	for k, vs := range headers {
		if strings.EqualFold(k, events.HeaderHops) && len(vs) > 0 {
			if n, err := strconv.Atoi(vs[0]); err == nil && n > 0 {
				return min(n, events.MaxHops)
			}
		}
	}
	return 0
}

// newEvent turns a message into the invocation event of the trigger; ErrUnusable when it never can.
func (a *Adapter) newEvent(m item) (event.Event, error) {
	if len(m.data) > events.MaxPayload {
		return event.Event{}, fmt.Errorf("%w: message %s: body of %d bytes is over the %d-byte limit", ErrUnusable, m.id, len(m.data), events.MaxPayload)
	}
	ev := event.New()
	ev.SetID(m.id)
	ev.SetSource(a.src.public)
	ev.SetType(events.TypeQueueMessage)
	ev.SetSubject(events.HeaderSafe(m.subject))
	if y := m.time.UTC().Year(); m.time.IsZero() || y < 0 || y > 9999 { // none, or none a CloudEvent can carry
		m.time = time.Now()
	}
	ev.SetTime(m.time.UTC())
	ev.SetExtension(events.ExtTrigger, events.TriggerQueue)
	if a.order != nil {
		if k := a.order.Key(m.headers, m.subject, m.routingKey, ""); k != "" {
			ev.SetExtension(events.ExtOrderKey, k)
		}
	}
	if hops := hopsOf(m.headers); hops > 0 {
		ev.SetExtension(events.ExtHops, strconv.Itoa(hops))
	}
	if len(m.headers) > 0 {
		h, err := json.Marshal(m.headers)
		if err != nil {
			return event.Event{}, fmt.Errorf("%w: message %s: headers: %w", ErrUnusable, m.id, err)
		}
		if len(h) > maxHeaders {
			return event.Event{}, fmt.Errorf("%w: message %s: headers of %d bytes are over the %d-byte limit", ErrUnusable, m.id, len(h), maxHeaders)
		}
		ev.SetExtension(ExtHeaders, string(h))
	}
	if _, _, err := mime.ParseMediaType(m.contentType); err == nil { // a malformed one is left out, not the message
		ev.SetDataContentType(m.contentType)
	}
	if len(m.data) > 0 {
		ev.DataEncoded = m.data
	}
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%w: message %s: %w", ErrUnusable, m.id, err)
	}
	return ev, nil
}

// TypeBatch is the type of a batch of queue messages.
const TypeBatch = "dev.sluice.queue.batch"

// Record is one message of a batch, shaped as an SQS record so that Lambda handlers read it
// unchanged: messageId is the event id a message alone would have (events.ItemID, what a
// function names in batchItemFailures), body the message as text.
type Record struct {
	MessageID         string               `json:"messageId"`
	Body              string               `json:"body"`
	BodyEncoding      string               `json:"bodyEncoding,omitempty"` // "base64" when the body is not UTF-8 text
	Attributes        map[string]string    `json:"attributes"`             // SentTimestamp (Unix ms), Subject, ContentType
	MessageAttributes map[string]Attribute `json:"messageAttributes"`      // the message's headers
	EventSource       string               `json:"eventSource"`            // sluice:queue
	EventSourceARN    string               `json:"eventSourceARN"`         // the queue's URL without credentials
}

// Attribute is one header of a message, as SQS gives a message attribute.
type Attribute struct {
	StringValue      string   `json:"stringValue"`
	StringListValues []string `json:"stringListValues,omitempty"`
	DataType         string   `json:"dataType"`
}

// merge makes the event of a batch of messages: {"Records": [Record...]}.
func (a *Adapter) merge(members []event.Event) (event.Event, error) {
	records := make([]any, len(members))
	for i, m := range members {
		r := Record{
			MessageID:      m.ID(),
			Attributes:     map[string]string{"SentTimestamp": strconv.FormatInt(m.Time().UnixMilli(), 10), "Subject": m.Subject()},
			EventSource:    "sluice:queue",
			EventSourceARN: m.Source(),
		}
		if ct := m.DataContentType(); ct != "" {
			r.Attributes["ContentType"] = ct
		}
		if body := m.Data(); utf8.Valid(body) {
			r.Body = string(body)
		} else {
			r.Body, r.BodyEncoding = base64.StdEncoding.EncodeToString(body), "base64"
		}
		r.MessageAttributes = map[string]Attribute{}
		if h, ok := m.Extensions()[ExtHeaders]; ok {
			var headers map[string][]string
			if err := json.Unmarshal([]byte(fmt.Sprint(h)), &headers); err == nil {
				for k, vs := range headers {
					if len(vs) > 0 {
						at := Attribute{StringValue: vs[0], DataType: "String"}
						if len(vs) > 1 {
							at.StringListValues = vs
						}
						r.MessageAttributes[k] = at
					}
				}
			}
		}
		records[i] = r
	}
	ev := event.New()
	ev.SetSource(a.src.public)
	ev.SetType(TypeBatch)
	ev.SetTime(members[0].Time())
	ev.SetExtension(events.ExtTrigger, events.TriggerQueue)
	if err := batch.Stamp(&ev, *a.spec.Queue.Batching, a.spec.ID, members, records); err != nil {
		return ev, fmt.Errorf("batch of %d messages: %w", len(members), err)
	}
	return ev, nil
}
