package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/gateway"
)

// hostilePage is a function's answer that tries to set state for the whole origin it shares with
// the console, with a policy of its own and a header name in lower case.
const hostilePage = `{"statusCode": 200,
	"headers": {"Content-Type": "text/html", "Content-Security-Policy": "img-src 'none'", "set-cookie": "stolen=1; Path=/",
		"service-worker-allowed": "/", "Clear-Site-Data": "\"*\"", "X-Content-Type-Options": "none", "X-Kept": "yes"},
	"multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "Strict-Transport-Security": ["max-age=31536000"]},
	"cookies": ["crumb=1; Path=/"],
	"body": "<script>alert(sessionStorage.length)</script>"}`

// hostileWorker answers every synchronous invocation with hostilePage.
func hostileWorker(t *testing.T, nc *nats.Conn) {
	sub, err := nc.Subscribe(events.InvokeSubject("*")+".>", func(m *nats.Msg) {
		_ = nc.PublishMsg(events.NewReply(m.Header.Get(events.HeaderReply), events.Result{Outcome: events.OutcomeOK, Payload: json.RawMessage(hostilePage)}))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// TestFunctionAnswersAreIsolated checks the header policy of function URLs and routes: the
// sandbox policy beside the function's own, nosniff, and none of the headers that set state for
// the whole origin; on the gateway's own error answers too.
func TestFunctionAnswersAreIsolated(t *testing.T) {
	bus := bustest.Start(t)
	hostileWorker(t, bus.Conn)
	putRoute(t, bus, "page", events.HTTPSpec{Path: "/page", Public: true, CORS: []string{"*"}})
	g, err := gateway.New(t.Context(), gateway.Options{NC: bus.Conn, JS: bus.JS, Fns: oneVersion{}, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	root := mux.NewRouter()
	g.Routes(root.PathPrefix("/v1/").Subrouter(), root)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)

	isolated := func(what string, a answer, status int) {
		t.Helper()
		if a.status != status {
			t.Errorf("%s: status %d, want %d: %s", what, a.status, status, a.body)
		}
		if csp := a.header.Values("Content-Security-Policy"); !slices.Contains(csp, gateway.FunctionSandbox) {
			t.Errorf("%s: Content-Security-Policy %q, want %q among them", what, csp, gateway.FunctionSandbox)
		}
		if got := a.header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
		}
		for _, k := range []string{"Set-Cookie", "Service-Worker-Allowed", "Clear-Site-Data", "Strict-Transport-Security"} {
			if v := a.header.Values(k); len(v) > 0 {
				t.Errorf("%s: %s %q passed through", what, k, v)
			}
		}
	}
	functionPage := func(what string, a answer) {
		t.Helper()
		isolated(what, a, http.StatusOK)
		if csp := a.header.Values("Content-Security-Policy"); !slices.Contains(csp, "img-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q lost the function's own", what, csp)
		}
		if a.header.Get("X-Kept") != "yes" || a.header.Get("Content-Type") != "text/html" || a.body != "<script>alert(sessionStorage.length)</script>" {
			t.Errorf("%s: the function's answer was changed beyond the policy: %v %q", what, a.header, a.body)
		}
	}

	functionPage("function URL", call(t, srv, "GET", "/fn/page/index.html", "Authorization", "Bearer secret"))
	functionPage("route", call(t, srv, "GET", "/r/page", "Origin", "https://shop.example"))
	isolated("function URL without the token", call(t, srv, "GET", "/fn/page"), http.StatusUnauthorized)
	isolated("function URL with an empty qualifier", call(t, srv, "GET", "/fn/page:", "Authorization", "Bearer secret"), http.StatusNotFound)
	isolated("no route", call(t, srv, "GET", "/r/nothing"), http.StatusNotFound)
	isolated("route preflight", call(t, srv, "OPTIONS", "/r/page", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET"), http.StatusNoContent)
}
