package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"sluice.dev/adapters/route"
	"sluice.dev/events"
	"sluice.dev/services/httpjson"
)

// RoutePrefix is where HTTP route triggers are served: a route /orders/{id} answers at
// /r/orders/{id}, clear of /v1, /fn, /healthz, /metrics and the console.
const RoutePrefix = "/r"

// httpRoute serves /r/...: the best route whose path and method match invokes its function, with
// the request in the function-URL event shape and pathParameters filled. A CORS preflight
// (OPTIONS with Access-Control-Request-Method) is answered here for the route's origins.
func (g *Gateway) httpRoute(w http.ResponseWriter, r *http.Request) {
	matches := g.routes.Find(strings.TrimPrefix(r.URL.EscapedPath(), RoutePrefix))
	if len(matches) == 0 {
		httpjson.Error(w, http.StatusNotFound, "route_not_found", "no HTTP route matches %s (add one with sluice trigger add FUNCTION --http-path PATH)", r.URL.Path)
		return
	}
	origin := r.Header.Get("Origin")
	if want := r.Header.Get("Access-Control-Request-Method"); r.Method == http.MethodOptions && want != "" {
		if !route.Preflight(w.Header(), matches, origin, want, r.Header.Get("Access-Control-Request-Headers")) {
			httpjson.Error(w, http.StatusForbidden, "cors_denied", "origin %q may not call %s %s", origin, want, r.URL.Path)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	m, ok := route.Pick(matches, r.Method)
	if !ok {
		allow := strings.Join(route.Methods(matches), ", ")
		w.Header().Set("Allow", allow)
		httpjson.Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "%s %s: use %s", r.Method, r.URL.Path, allow)
		return
	}
	m.AllowOrigin(w.Header(), origin)
	if !g.authorized(w, r, m.Spec.Public, m.Function, "route "+m.Spec.Path) {
		return
	}
	v, ok := g.resolve(w, r, m.Function, "")
	if !ok {
		return
	}
	body, ok := httpjson.ReadBody(w, r, events.MaxPayload)
	if !ok {
		return
	}
	id := uuid.NewString()
	ev := m.Event(r, r.URL.Path[len(RoutePrefix):], body, id, time.Now())
	data, ok := encodeHTTPEvent(w, ev)
	if !ok {
		return
	}
	call := Call{ID: id, Minted: true, Version: v, Data: data, Type: events.TypeHTTPRequest, Trigger: events.TriggerHTTP, Source: m.Source(), Subject: ev.RawPath}
	g.answerHTTP(w, r, m.Function, v, call)
}
