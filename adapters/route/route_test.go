package route_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"sluice.dev/adapters/route"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

func TestFactoryRefusesBadSpecs(t *testing.T) {
	for _, s := range []events.HTTPSpec{
		{Path: "orders"},
		{Path: "/orders//x"},
		{Path: "/orders/{id"},
		{Path: "/orders/x{id}"},
		{Path: "/orders/{id}/{id}"},
		{Path: "/files/{path+}/x"},
		{Path: "/x", Method: "get"},
		{Path: "/x", CORS: []string{"shop.example"}},
	} {
		_, err := route.Factory(events.Trigger{ID: "r", Function: "f", Kind: events.TriggerHTTP, HTTP: &s})
		if !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	for _, s := range []events.HTTPSpec{{Path: "/"}, {Path: "/orders/{id}", Method: "PUT", CORS: []string{"*", "http://localhost:3000"}}, {Path: "/{proxy+}"}} {
		if _, err := route.Factory(events.Trigger{ID: "r", Function: "f", Kind: events.TriggerHTTP, HTTP: &s}); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func putRoute(t *testing.T, kv jetstream.KeyValue, id string, s events.HTTPSpec) {
	t.Helper()
	b, _ := json.Marshal(events.Trigger{ID: id, Function: "orders", Kind: events.TriggerHTTP, HTTP: &s})
	if _, err := kv.Put(t.Context(), events.TriggerKey(id), b); err != nil {
		t.Fatal(err)
	}
}

func TestTable(t *testing.T) {
	bus := bustest.Start(t)
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	putRoute(t, kv, "get-order", events.HTTPSpec{Path: "/orders/{id}", Method: "GET", CORS: []string{"https://shop.example"}})
	putRoute(t, kv, "b-latest", events.HTTPSpec{Path: "/orders/latest"})
	putRoute(t, kv, "a-latest", events.HTTPSpec{Path: "/orders/latest", Method: "POST"})
	putRoute(t, kv, "bad", events.HTTPSpec{Path: "no-slash"})
	tab, err := route.Open(t.Context(), kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tab.Close)

	// Most literal segments first, then the smaller id.
	ms := tab.Find("/orders/latest")
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"a-latest", "b-latest", "get-order"}) || ms[2].Params["id"] != "latest" {
		t.Fatalf("find /orders/latest: %v %+v", ids, ms)
	}
	if m, ok := route.Pick(ms, "GET"); !ok || m.ID != "b-latest" || m.Key() != "ANY /orders/latest" || m.Source() != "/sluice/route/b-latest" {
		t.Fatalf("pick GET: %+v %v", m, ok)
	}
	if got := route.Methods(ms); !slices.Equal(got, []string{"POST", "", "GET"}) {
		t.Fatalf("methods: %q", got)
	}
	if ms := tab.Find("/orders/a%2Fb"); len(ms) != 1 || ms[0].Params["id"] != "a/b" {
		t.Fatalf("escaped parameter: %+v", ms)
	}
	if ms := tab.Find("/no-slash"); len(ms) != 0 {
		t.Fatalf("a bad spec is served: %+v", ms)
	}

	ms = tab.Find("/orders/7")
	h := http.Header{}
	if !route.Preflight(h, ms, "https://shop.example", "GET", "X-Trace") || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET" || h.Get("Access-Control-Allow-Headers") != "X-Trace" || h.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %v", h)
	}
	h = http.Header{}
	if route.Preflight(h, ms, "https://evil.example", "GET", "") || len(h) != 0 {
		t.Fatalf("preflight of another origin: %v", h)
	}
	r := httptest.NewRequest(http.MethodGet, "http://h/r/orders/7", nil)
	if ev := ms[0].Event(r, "/orders/7", nil, "id", time.Now()); ev.RouteKey != "GET /orders/{id}" || ev.PathParameters["id"] != "7" || ev.RawPath != "/orders/7" {
		t.Fatalf("event: %+v", ev)
	}

	// The table follows the bucket.
	if err := kv.Delete(t.Context(), events.TriggerKey("get-order")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if ms := tab.Find("/orders/7"); len(ms) != 0 {
			return fmt.Errorf("deleted route still found: %+v", ms)
		}
		return nil
	})
}
