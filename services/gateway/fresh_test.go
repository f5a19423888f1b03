package gateway_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/gateway"
)

// An async event whose id the gateway minted, by any of its HTTP ways, is marked fresh, so its
// first delivery reads no record of it; one whose id came from outside is not: a record of that
// id may exist.
func TestMintedIDsAreMarkedFresh(t *testing.T) {
	bus := bustest.Start(t)
	putRoute(t, bus, "orders", events.HTTPSpec{Path: "/orders", Method: "POST"})
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	root := mux.NewRouter()
	g.Routes(root, root)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)

	want := map[string]bool{} // invocation id → marked fresh
	for _, path := range []string{"/v1/functions/f/invocations", "/fn/f", "/fn/f/some/path", "/r/orders"} {
		a := call(t, srv, "POST", path, "Authorization", "Bearer secret", wire.HeaderInvocationType, wire.InvocationEvent)
		var acc wire.Accepted
		if err := json.Unmarshal([]byte(a.body), &acc); a.status != 202 || err != nil || acc.InvocationID == "" {
			t.Fatalf("async %s: %d %s", path, a.status, a.body)
		}
		want[acc.InvocationID] = true
	}
	id, err := g.Async(t.Context(), gateway.Call{ID: "order-7", Version: version("f")})
	if err != nil {
		t.Fatal(err)
	}
	want[id] = false

	stream, err := bus.JS.Stream(t.Context(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for seq := range uint64(len(want)) {
		m, err := stream.GetMsg(t.Context(), seq+1)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.ParseHeaders(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		got[ev.ID()] = m.Header.Get(events.HeaderFresh) != ""
	}
	if len(got) != len(want) {
		t.Fatalf("stored %v; want %v", got, want)
	}
	for id, fresh := range want {
		if got[id] != fresh {
			t.Errorf("event %s marked fresh: %v; want %v", id, got[id], fresh)
		}
	}
}
