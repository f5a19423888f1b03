package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"

	"sluice.dev/adapters/route"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/gateway"
)

type oneVersion struct{}

func (oneVersion) Resolve(_ context.Context, name, _ string) (events.Version, error) {
	return events.Version{Function: name, Version: 1, Config: events.Config{Timeout: events.Duration(5 * time.Second)}}, nil
}

// echoWorker answers every synchronous invocation with the event it got as the body.
func echoWorker(t *testing.T, nc *nats.Conn) {
	sub, err := nc.Subscribe(events.InvokeSubject("*")+".>", func(m *nats.Msg) {
		ev, err := events.ParseMsg(m)
		if err != nil {
			return
		}
		body, _ := json.Marshal(map[string]any{"statusCode": 200, "headers": map[string]string{"X-Source": ev.Source()}, "body": string(ev.Data())})
		_ = nc.PublishMsg(events.NewReply(m.Header.Get(events.HeaderReply), events.Result{Outcome: events.OutcomeOK, Payload: body}))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func putRoute(t *testing.T, bus *bustest.Bus, id string, s events.HTTPSpec) {
	t.Helper()
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(events.Trigger{ID: id, Function: "orders", Kind: events.TriggerHTTP, HTTP: &s})
	if _, err := kv.Put(t.Context(), events.TriggerKey(id), b); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	status int
	header http.Header
	body   string
	event  route.Event
}

func call(t *testing.T, srv *httptest.Server, method, path string, header ...string) answer {
	t.Helper()
	return send(t, srv, method, path, `{"n":1}`, header...)
}

// send makes one request with body and header (name, value, ...) and reads the answer.
func send(t *testing.T, srv *httptest.Server, method, path, body string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.event)
	return a
}

func TestHTTPRoutes(t *testing.T) {
	bus := bustest.Start(t)
	echoWorker(t, bus.Conn)
	putRoute(t, bus, "get-order", events.HTTPSpec{Path: "/orders/{id}", Method: "GET", Public: true, CORS: []string{"https://shop.example"}})
	putRoute(t, bus, "files", events.HTTPSpec{Path: "/files/{path+}", Method: "POST"})
	putRoute(t, bus, "latest", events.HTTPSpec{Path: "/orders/latest"})
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	root := mux.NewRouter()
	g.Routes(root.PathPrefix("/v1/").Subrouter(), root)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)

	a := call(t, srv, "GET", "/r/orders/42?x=1", "Origin", "https://shop.example")
	if a.status != 200 || a.event.PathParameters["id"] != "42" || a.event.RouteKey != "GET /orders/{id}" || a.event.RawPath != "/orders/42" ||
		a.event.QueryStringParameters["x"] != "1" || a.header.Get("X-Source") != "/sluice/route/get-order" || a.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("GET /r/orders/42: %+v", a)
	}
	if a := call(t, srv, "GET", "/r/orders/42", "Origin", "https://evil.example"); a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin: %d %v", a.status, a.header)
	}
	// The literal route wins over {id}, and it is not public.
	if a := call(t, srv, "GET", "/r/orders/latest"); a.status != 401 || !strings.Contains(a.body, "/orders/latest") {
		t.Fatalf("literal route without the token: %+v", a)
	}
	if a := call(t, srv, "GET", "/r/orders/latest", "Authorization", "Bearer secret"); a.status != 200 || a.event.RouteKey != "ANY /orders/latest" {
		t.Fatalf("literal route with the token: %+v", a)
	}
	if a := call(t, srv, "DELETE", "/r/orders/42"); a.status != 405 || a.header.Get("Allow") != "GET" {
		t.Fatalf("wrong method: %+v", a)
	}
	if a := call(t, srv, "POST", "/r/files/a/b/c.txt"); a.status != 401 {
		t.Fatalf("route with a token, none sent: %+v", a)
	}
	if a := call(t, srv, "POST", "/r/files/a/b/c.txt", "Authorization", "Bearer secret"); a.status != 200 || a.event.PathParameters["path"] != "a/b/c.txt" || a.event.Body != `{"n":1}` {
		t.Fatalf("greedy route: %+v", a)
	}
	if a := call(t, srv, "GET", "/r/nothing"); a.status != 404 || !strings.Contains(a.body, "route_not_found") {
		t.Fatalf("no route: %+v", a)
	}

	// CORS preflight: answered for listed origins, refused for others; no token needed.
	a = call(t, srv, "OPTIONS", "/r/orders/7", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "X-Trace")
	if a.status != 204 || a.header.Get("Access-Control-Allow-Origin") != "https://shop.example" || a.header.Get("Access-Control-Allow-Methods") != "GET" || a.header.Get("Access-Control-Allow-Headers") != "X-Trace" {
		t.Fatalf("preflight: %+v", a)
	}
	if a := call(t, srv, "OPTIONS", "/r/orders/7", "Origin", "https://evil.example", "Access-Control-Request-Method", "GET"); a.status != 403 {
		t.Fatalf("preflight of another origin: %+v", a)
	}

	// Routes follow the bucket.
	putRoute(t, bus, "get-order", events.HTTPSpec{Path: "/v2/orders/{id}", Method: "GET", Public: true})
	testkit.Eventually(t, 5*time.Second, func() error {
		if a := call(t, srv, "GET", "/r/v2/orders/9"); a.status != 200 || a.event.PathParameters["id"] != "9" {
			return fmt.Errorf("moved route: %d %s", a.status, a.body)
		}
		if a := call(t, srv, "GET", "/r/orders/9"); a.status != 404 {
			return fmt.Errorf("old path still served: %d", a.status)
		}
		return nil
	})
}
