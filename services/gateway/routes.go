package gateway

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"sluice.dev/events"
	"sluice.dev/services/httpjson"
)

// httpRoute serves /r/...: the best route whose path and method match invokes its function, with
// the request in the function-URL event shape and pathParameters filled. A CORS preflight
// (OPTIONS with Access-Control-Request-Method) is answered here for the route's origins.
func (g *Gateway) httpRoute(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), RoutePrefix)
	routes, params := g.routes.find(path)
	if len(routes) == 0 {
		httpjson.Error(w, http.StatusNotFound, "route_not_found", "no HTTP route matches %s (add one with sluice trigger add FUNCTION --http-path PATH)", r.URL.Path)
		return
	}
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		g.preflight(w, r, routes, origin)
		return
	}
	i := slices.IndexFunc(routes, func(rt route) bool { return rt.spec.Method == "" || rt.spec.Method == r.Method })
	if i < 0 {
		w.Header().Set("Allow", strings.Join(methods(routes), ", "))
		httpjson.Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "%s %s: use %s", r.Method, r.URL.Path, strings.Join(methods(routes), ", "))
		return
	}
	rt, pp := routes[i], params[i]
	allowCORS(w.Header(), rt.spec.CORS, origin)
	if !g.authorized(w, r, rt.spec.Public, "route "+rt.spec.Path) {
		return
	}
	v, ok := g.resolve(w, r, rt.function, "")
	if !ok {
		return
	}
	body, ok := httpjson.ReadBody(w, r, events.MaxPayload)
	if !ok {
		return
	}
	id := uuid.NewString()
	ev := NewHTTPEvent(r, r.URL.Path[len(RoutePrefix):], body, id, time.Now())
	method := rt.spec.Method
	if method == "" {
		method = "ANY"
	}
	ev.RouteKey = method + " " + rt.spec.Path
	if len(pp) > 0 {
		ev.PathParameters = pp
	}
	data, ok := encodeHTTPEvent(w, ev)
	if !ok {
		return
	}
	call := Call{ID: id, Version: v, Data: data, Type: events.TypeHTTPRequest, Trigger: events.TriggerHTTP, Source: "/sluice/route/" + rt.id, Subject: ev.RawPath}
	g.answerHTTP(w, r, rt.function, v, call)
}

// preflight answers a CORS preflight for the routes of a path.
func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request, routes []route, origin string) {
	want := r.Header.Get("Access-Control-Request-Method")
	for _, rt := range routes {
		if (rt.spec.Method == "" || rt.spec.Method == want) && allowCORS(w.Header(), rt.spec.CORS, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", want)
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	httpjson.Error(w, http.StatusForbidden, "cors_denied", "origin %q may not call %s %s", origin, want, r.URL.Path)
}

// allowCORS sets the CORS answer headers when origin is one of allowed ("*" allows any) and
// reports whether it did.
func allowCORS(h http.Header, allowed []string, origin string) bool {
	if origin == "" || len(allowed) == 0 {
		return false
	}
	if !slices.Contains(allowed, origin) && !slices.Contains(allowed, "*") {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	return true
}

func methods(routes []route) []string {
	var ms []string
	for _, rt := range routes {
		if !slices.Contains(ms, rt.spec.Method) {
			ms = append(ms, rt.spec.Method)
		}
	}
	return ms
}
