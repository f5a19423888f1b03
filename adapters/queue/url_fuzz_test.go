package queue

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
)

// FuzzParseURL checks queue URLs as the API does when a trigger is added: a refusal is
// ErrInvalidTrigger and never shows the password; an accepted URL has a target, a public form
// without credentials that is a valid event source, and a server the client can dial.
func FuzzParseURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		spec := events.Trigger{ID: "q1", Function: "fn", Kind: events.TriggerQueue, Queue: &events.QueueSpec{URL: raw}}
		_, newErr := New(spec)
		s, err := parseURL(raw)
		if (err == nil) != (newErr == nil) {
			t.Fatalf("parseURL says %v, New says %v", err, newErr)
		}
		if err != nil {
			if !errors.Is(err, events.ErrInvalidTrigger) {
				t.Fatalf("error %v is not ErrInvalidTrigger", err)
			}
			// The password itself may be a word of the message ("queu" of "queue url"), so the
			// same URL is refused again with a password no message holds, which must not show.
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && pw != "" && strings.Count(raw, pw) == 1 && pw != events.SecretMarker {
					const canary = "Pw7canary"
					if _, err := parseURL(strings.Replace(raw, pw, canary, 1)); err != nil && strings.Contains(err.Error(), canary) {
						t.Fatalf("the error shows the password: %v", err)
					}
				}
			}
			return
		}
		if s.target == "" || s.server == "" {
			t.Fatalf("parsed %q as %+v", raw, s)
		}
		pub, err := url.Parse(s.public)
		if err != nil || pub.User != nil || pub.Scheme != s.scheme || pub.Host == "" {
			t.Fatalf("public form %q of %q: %v", s.public, raw, err)
		}
		if _, err := url.Parse(s.server); err != nil {
			t.Fatalf("server %q of %q: %v", s.server, raw, err)
		}
		a := &Adapter{spec: spec, src: s}
		ev, err := a.newEvent(item{id: a.eventID("1"), subject: s.target, data: []byte(`{}`), time: time.Unix(1700000000, 0)})
		if err != nil {
			t.Fatalf("%q: no message can become an event: %v", raw, err)
		}
		if _, err := events.NewMsg(events.InvokeSubject("fn"), ev); err != nil {
			t.Fatalf("%q: no event can be published: %v", raw, err)
		}
	})
}

// FuzzQueueMessage turns queue messages from outside into invocation events, as the consumers
// do: a message is unusable only when it is over the size limits; any other becomes an event
// that the bus takes and the worker decodes, with the message's data and headers.
func FuzzQueueMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, subject, contentType, headerName, headerValue, timestamp string, data []byte) {
		spec := events.Trigger{ID: "q1", Function: "fn", Kind: events.TriggerQueue, Queue: &events.QueueSpec{URL: "amqp://u:p@mq/jobs"}}
		s, err := parseURL(spec.Queue.URL)
		if err != nil {
			t.Fatal(err)
		}
		a := &Adapter{spec: spec, src: s}
		m := item{id: a.eventID(id), subject: subject, data: data, contentType: contentType}
		if ts, err := time.Parse(time.RFC3339Nano, timestamp); err == nil {
			m.time = ts
		}
		if headerName != "" {
			m.headers = map[string][]string{headerName: {headerValue}}
		}
		ev, err := a.newEvent(m)
		if err != nil {
			h, _ := json.Marshal(m.headers)
			if !errors.Is(err, ErrUnusable) || len(data) <= events.MaxPayload && len(h) <= maxHeaders {
				t.Fatalf("message refused: %v", err)
			}
			return
		}
		msg, err := events.NewMsg(events.InvokeSubject("fn"), ev)
		if err != nil {
			t.Fatalf("the event of a message does not publish: %v", err)
		}
		back, err := events.ParseMsg(msg)
		if err != nil {
			t.Fatalf("the worker refuses the event of a message: %v", err)
		}
		if back.ID() != strings.TrimSpace(m.id) || string(back.Data()) != string(data) { // the SDK trims ids
			t.Fatalf("the event reads as id %q, data %q", back.ID(), back.Data())
		}
		if m.headers != nil {
			var got map[string][]string
			if err := json.Unmarshal([]byte(ev.Extensions()[ExtHeaders].(string)), &got); err != nil || len(got) != 1 {
				t.Fatalf("headers %v: %v", ev.Extensions()[ExtHeaders], err)
			}
		}
	})
}

// Found by FuzzParseURL: a subject or stream with a '%' (allowed by NATS) made a public form
// that is not a URL, so every message of the trigger failed as an event source.
func TestPublicFormOfPercent(t *testing.T) {
	for raw, want := range map[string]string{
		"nats://h/a%25zz":       "nats://h:4222/a%25zz",
		"jetstream://h/S%25":    "jetstream://h:4222/S%25",
		"nats://h/orders.*":     "nats://h:4222/orders.*",
		"amqp://u:p@h/a%25%2Fb": "amqp://h:5672/a%25%2Fb",
	} {
		s, err := parseURL(raw)
		if err != nil || s.public != want {
			t.Errorf("%s: public %q, %v; want %q", raw, s.public, err, want)
		}
	}
}

// Found by FuzzQueueMessage: a message timestamp whose offset takes it out of the years
// 0000-9999 in UTC made an event the bus refuses, and the message was dropped.
func TestMessageTimeOutsideRFC3339(t *testing.T) {
	a := &Adapter{spec: events.Trigger{ID: "q1"}, src: source{public: "amqp://mq:5672/jobs"}}
	ts, _ := time.Parse(time.RFC3339, "0000-01-01T00:30:00+01:00")
	ev, err := a.newEvent(item{id: "q1-m", subject: "jobs", data: []byte(`{}`), time: ts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.NewMsg(events.InvokeSubject("fn"), ev); err != nil {
		t.Fatalf("event of a message stamped %s: %v", ts, err)
	}
}

// Found by FuzzParseURL: a host of colons that is no IPv6 address ("nats://::/s") was accepted
// and made a server and an event source that are not URLs.
func TestColonHost(t *testing.T) {
	for _, raw := range []string{"nats://::/s", "jetstream://a:b:c/S", "amqp://u:p@x:y:5672/q"} {
		if _, err := parseURL(raw); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%s: %v, want ErrInvalidTrigger", raw, err)
		}
	}
	if s, err := parseURL("nats://[::1]:4222/s"); err != nil || s.server != "nats://[::1]:4222" {
		t.Errorf("an IPv6 address: %+v, %v", s, err)
	}
}

// Found by FuzzQueueMessage: a message whose content type is not a media type (`"`) could not
// become an event and was dropped; now the content type is left out instead.
func TestMalformedContentType(t *testing.T) {
	a := &Adapter{spec: events.Trigger{ID: "q1"}, src: source{public: "amqp://mq:5672/jobs"}}
	for _, ct := range []string{`"`, " ", "text/", "application/json; charset"} {
		ev, err := a.newEvent(item{id: "q1-m", subject: "jobs", data: []byte(`{}`), contentType: ct})
		if err != nil {
			t.Errorf("content type %q: %v", ct, err)
			continue
		}
		if ev.DataContentType() != "" {
			t.Errorf("content type %q kept as %q", ct, ev.DataContentType())
		}
	}
	ev, err := a.newEvent(item{id: "q1-m", subject: "jobs", data: []byte(`{}`), contentType: "application/json; charset=utf-8"})
	if err != nil || ev.DataContentType() != "application/json; charset=utf-8" {
		t.Errorf("a valid content type: %q, %v", ev.DataContentType(), err)
	}
}
