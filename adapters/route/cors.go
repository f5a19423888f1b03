package route

import (
	"net/http"
	"slices"
)

// AllowOrigin sets the CORS answer headers in h when origin is one of the route's origins ("*"
// allows any) and reports whether it did.
func (r Route) AllowOrigin(h http.Header, origin string) bool {
	allowed := r.Spec.CORS
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

// Preflight sets in h the answer to a CORS preflight for matches: origin asks to use method
// (Access-Control-Request-Method) with requestHeaders (Access-Control-Request-Headers). It
// reports whether the first route that takes method allowing origin was found; without one, h is
// left as it was and the preflight is refused.
func Preflight(h http.Header, matches []Match, origin, method, requestHeaders string) bool {
	for _, m := range matches {
		if m.Allows(method) && m.AllowOrigin(h, origin) {
			h.Set("Access-Control-Allow-Methods", method)
			if requestHeaders != "" {
				h.Set("Access-Control-Allow-Headers", requestHeaders)
			}
			h.Set("Access-Control-Max-Age", "600")
			return true
		}
	}
	return false
}
