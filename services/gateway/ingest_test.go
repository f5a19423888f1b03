package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/access"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/gateway"
	"sluice.dev/services/keys"
)

func putSubscription(t *testing.T, bus *bustest.Bus, id, fn string, s events.CloudEventsSpec) {
	t.Helper()
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(events.Trigger{ID: id, Function: fn, Kind: events.TriggerCloudEvents, CloudEvents: &s})
	if _, err := kv.Put(t.Context(), events.TriggerKey(id), b); err != nil {
		t.Fatal(err)
	}
}

// ingestRig is a gateway with subscriptions, its API served as caller.
type ingestRig struct {
	bus *bustest.Bus
	srv *httptest.Server
}

func newIngestRig(t *testing.T, caller keys.Key) *ingestRig {
	bus := bustest.Start(t)
	putSubscription(t, bus, "created", "orders", events.CloudEventsSpec{Type: "com.shop.order.created"})
	putSubscription(t, bus, "eu", "audit", events.CloudEventsSpec{TypePrefix: "com.shop.", SourceSuffix: "/eu", SubjectPrefix: "orders/"})
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	root := mux.NewRouter()
	api := root.NewRoute().Subrouter()
	api.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(access.WithCaller(r.Context(), caller)))
		})
	})
	g.Routes(api, root)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return &ingestRig{bus: bus, srv: srv}
}

func (r *ingestRig) post(t *testing.T, body string, header ...string) (int, wire.Ingested, string) {
	t.Helper()
	a := send(t, r.srv, "POST", "/v1/events", body, header...)
	var ans wire.Ingested
	_ = json.Unmarshal([]byte(a.body), &ans)
	return a.status, ans, a.body
}

// stored reads the invocation event of fn with id from SLUICE_INVOKE.
func (r *ingestRig) stored(t *testing.T, fn, id string) event.Event {
	t.Helper()
	s, err := r.bus.JS.Stream(t.Context(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(t.Context(), events.EventSubject(fn, id))
	if err != nil {
		t.Fatalf("invocation %s of %s: %v", id, fn, err)
	}
	ev, err := events.ParseHeaders(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// invocations is what each event became: "function" for each invocation, in order.
func invocations(a wire.Ingested) []string {
	var out []string
	for _, e := range a.Events {
		var fns []string
		for _, inv := range e.Invocations {
			fns = append(fns, inv.Function)
		}
		out = append(out, strings.Join(fns, "+"))
	}
	return out
}

// CloudEvents in binary, structured and batch modes reach the functions whose filters they
// pass (exact, prefix, suffix on type, source and subject), as events of their own.
func TestCloudEventsAreRoutedBySubscription(t *testing.T) {
	r := newIngestRig(t, keys.Key{Scope: keys.ScopeAdmin})

	status, ans, body := r.post(t, `{"order": 1}`, "Content-Type", "application/json", "ce-specversion", "1.0",
		"ce-id", "e1", "ce-source", "/shop/eu", "ce-type", "com.shop.order.created", "ce-subject", "orders/1",
		"ce-tenant", "acme", "ce-sluicebatch", "report", "ce-sluiceorderkey", "x")
	if status != 202 || fmt.Sprint(invocations(ans)) != "[orders+audit]" {
		t.Fatalf("binary: %d %s", status, body)
	}
	inv := ans.Events[0].Invocations[0]
	ev := r.stored(t, "orders", inv.ID)
	ext := ev.Extensions()
	if ev.Type() != "com.shop.order.created" || ev.Source() != "/shop/eu" || string(ev.Data()) != `{"order": 1}` ||
		ext["tenant"] != "acme" || ext["sluiceeventid"] != "e1" || ext["sluicesubscription"] != "created" ||
		ext[events.ExtBatch] != nil || ext[events.ExtOrderKey] != nil || ext[events.ExtHops] != "1" {
		t.Fatalf("invocation event %s", ev)
	}

	structured := `{"specversion":"1.0","id":"e2","source":"/shop/us","type":"com.shop.order.created","subject":"orders/2","datacontenttype":"application/json","data":{"order":2}}`
	if status, ans, body := r.post(t, structured, "Content-Type", "application/cloudevents+json"); status != 202 || fmt.Sprint(invocations(ans)) != "[orders]" {
		t.Fatalf("structured: %d %s", status, body)
	}
	batch := `[{"specversion":"1.0","id":"e3","source":"/shop/eu","type":"com.shop.order.paid","subject":"orders/3"},
		{"specversion":"1.0","id":"e4","source":"/shop/eu","type":"com.shop.order.paid","subject":"refunds/4"},
		{"specversion":"1.0","id":"e5","source":"/other","type":"com.other"}]`
	if status, ans, body := r.post(t, batch, "Content-Type", "application/cloudevents-batch+json"); status != 202 || fmt.Sprint(invocations(ans)) != "[audit  ]" {
		t.Fatalf("batch: %d %s", status, body)
	}
	// The same event sent again is the same invocation: the bus keeps it once.
	_, again, _ := r.post(t, structured, "Content-Type", "application/cloudevents+json")
	_, first, _ := r.post(t, structured, "Content-Type", "application/cloudevents+json")
	if again.Events[0].Invocations[0].ID != first.Events[0].Invocations[0].ID {
		t.Fatalf("ids %v, %v", again, first)
	}
}

// What is not a CloudEvent, or is too large, is refused whole, and nothing is stored.
func TestBadCloudEventsAreRefused(t *testing.T) {
	r := newIngestRig(t, keys.Key{Scope: keys.ScopeAdmin})
	for name, c := range map[string]struct {
		body   string
		header []string
		status int
	}{
		"no id":        {`{}`, []string{"ce-specversion", "1.0", "ce-source", "/s", "ce-type", "t"}, 400},
		"version 0.3":  {`{"specversion":"0.3","id":"a","source":"/s","type":"t"}`, []string{"Content-Type", "application/cloudevents+json"}, 400},
		"not JSON":     {`{"specversion":`, []string{"Content-Type", "application/cloudevents+json"}, 400},
		"bad in batch": {`[{"specversion":"1.0","id":"a","source":"/s","type":"com.shop.order.created"},{"specversion":"1.0","id":"b"}]`, []string{"Content-Type", "application/cloudevents-batch+json"}, 400},
		"empty batch":  {`[]`, []string{"Content-Type", "application/cloudevents-batch+json"}, 400},
		"no event":     {`plain`, []string{"Content-Type", "text/plain"}, 400},
		"huge":         {strings.Repeat("x", events.MaxPayload+300<<10), []string{"ce-specversion", "1.0", "ce-id", "h", "ce-source", "/s", "ce-type", "com.shop.order.created"}, 413},
		"long id":      {`{}`, []string{"ce-specversion", "1.0", "ce-id", strings.Repeat("i", 5000), "ce-source", "/s", "ce-type", "t"}, 400},
		"header in a value": {`{"specversion":"1.0","id":"a","source":"/s","type":"com.shop.order.created\r\nSluice-Reply: _INBOX.x","tenant":"a\nb"}`,
			[]string{"Content-Type", "application/cloudevents+json"}, 400},
	} {
		if status, _, body := r.post(t, c.body, c.header...); status != c.status {
			t.Errorf("%s: %d %s, want %d", name, status, body, c.status)
		}
	}
	if n := bustest.Stored(t, r.bus.JS, events.StreamInvoke, "sluice.invoke.>"); n != 0 {
		t.Fatalf("%d events stored from refused requests", n)
	}
}

// A key limited to some functions routes events to those alone; an event that came through
// the most routings goes nowhere.
func TestCloudEventsReachOnlyWhatTheCallerMay(t *testing.T) {
	r := newIngestRig(t, keys.Key{ID: "k", Scope: keys.ScopeInvoke, Functions: "audit"})
	hdr := []string{"ce-specversion", "1.0", "ce-id", "e1", "ce-source", "/shop/eu", "ce-type", "com.shop.order.created", "ce-subject", "orders/1"}
	if status, ans, body := r.post(t, `{}`, hdr...); status != 202 || fmt.Sprint(invocations(ans)) != "[audit]" {
		t.Fatalf("limited key: %d %s", status, body)
	}
	looped := append(hdr[:3:3], "e2", "ce-source", "/shop/eu", "ce-type", "com.shop.order.created", "ce-subject", "orders/1",
		"ce-"+events.ExtHops, fmt.Sprint(events.MaxHops))
	if status, ans, body := r.post(t, `{}`, looped...); status != 202 || len(ans.Events) != 1 || ans.Events[0].Dropped == "" || len(ans.Events[0].Invocations) != 0 {
		t.Fatalf("looped event: %d %s", status, body)
	}
}

// Events sent on the bus subject are routed the same way; a request is answered.
func TestCloudEventsOverNATS(t *testing.T) {
	r := newIngestRig(t, keys.Key{Scope: keys.ScopeAdmin})
	m := natsMsg(events.IngressSubject, `{"specversion":"1.0","id":"n1","source":"/shop/eu","type":"com.shop.order.created","subject":"orders/9"}`,
		"Content-Type", "application/cloudevents+json")
	reply, err := r.bus.Conn.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ans wire.Ingested
	if err := json.Unmarshal(reply.Data, &ans); err != nil || fmt.Sprint(invocations(ans)) != "[orders+audit]" {
		t.Fatalf("answer %s: %v", reply.Data, err)
	}
	bad, err := r.bus.Conn.RequestMsg(natsMsg(events.IngressSubject, `{"id":"x"}`, "Content-Type", "application/cloudevents+json"), 5*time.Second)
	if err != nil || !strings.Contains(string(bad.Data), "bad_request") {
		t.Fatalf("bad event answer %s: %v", bad.Data, err)
	}
	// Binary mode, without an answer asked for.
	if err := r.bus.Conn.PublishMsg(natsMsg(events.IngressSubject, `{"n":1}`, "ce-specversion", "1.0", "ce-id", "n2", "ce-source", "/x",
		"ce-type", "com.shop.order.created")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _ := r.bus.JS.Stream(t.Context(), events.StreamInvoke)
		if _, err := s.GetLastMsgForSubject(t.Context(), events.InvokeSubject("orders")+".>"); err == nil && bustest.Stored(t, r.bus.JS, events.StreamInvoke, events.InvokeSubject("orders")+".>") == 2 {
			break
		} else if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the binary event was not routed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func natsMsg(subject, data string, header ...string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte(data)
	for i := 0; i+1 < len(header); i += 2 {
		m.Header.Set(header[i], header[i+1])
	}
	return m
}
