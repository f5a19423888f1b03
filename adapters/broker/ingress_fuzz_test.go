package broker_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"

	"sluice.dev/adapters/broker"
	"sluice.dev/events"
)

// Whatever comes in, over HTTP or NATS, is refused with one of the package's errors or read as
// events that pass Check and become invocations without sluice's own extensions; nothing
// panics.
func FuzzIngress(f *testing.F) {
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{"x":1}}`))
	f.Add("application/cloudevents-batch+json", "", []byte(`[{"specversion":"1.0","id":"a","source":"/s","type":"t"},{"specversion":"1.0","id":"b","source":"/s","type":"t","sluicebatch":"report"}]`))
	f.Add("application/json", "1.0", []byte(`{"x":1}`))
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"","source":"/s","type":"t"}`))
	f.Add("text/plain", "", []byte(`hello`))
	f.Add("application/cloudevents-batch+json", "", []byte(`[]`))
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"a","source":"/s","type":"t\r\nNats-Msg-Id: x","ext":"a\nb"}`))
	f.Fuzz(func(t *testing.T, contentType, specversion string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "http://x/v1/events", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentType)
		m := nats.NewMsg(events.IngressSubject)
		m.Data = body
		m.Header.Set("Content-Type", contentType)
		if specversion != "" {
			for _, h := range []http.Header{req.Header, http.Header(m.Header)} {
				h.Set("ce-specversion", specversion)
				h.Set("ce-id", "id-1")
				h.Set("ce-source", "/fuzz")
				h.Set("ce-type", "fuzz")
			}
		}
		fromHTTP, errHTTP := broker.ReadHTTP(req)
		fromNATS, errNATS := broker.ReadNATS(m)
		for _, c := range []struct {
			err error
			n   int
		}{{errHTTP, len(fromHTTP)}, {errNATS, len(fromNATS)}} {
			if c.err != nil && !errors.Is(c.err, broker.ErrBadEvent) && !errors.Is(c.err, broker.ErrTooLarge) {
				t.Fatalf("an error of no kind: %v", c.err)
			}
			if c.err == nil && (c.n == 0 || c.n > broker.MaxBatch) {
				t.Fatalf("%d events read", c.n)
			}
		}
		for _, ev := range append(fromHTTP, fromNATS...) {
			if err := broker.Check(ev); err != nil {
				t.Fatalf("an event read that Check refuses: %v", err)
			}
			inv := broker.Invocation(ev, broker.Subscription{ID: "sub", Function: "fn"})
			if _, err := events.NewMsg(events.SubjectOf("fn", inv), inv); err != nil {
				t.Fatalf("invocation of an accepted event cannot be stored: %v", err)
			}
			for name := range inv.Extensions() {
				switch name {
				case broker.ExtEventID, broker.ExtSubscription, events.ExtTrigger, events.ExtHops:
				default:
					if len(name) >= 6 && name[:6] == "sluice" {
						t.Fatalf("extension %s came in from outside", name)
					}
				}
			}
		}
	})
}
