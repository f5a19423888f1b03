package gateway

import (
	"net/http"
	"slices"
)

// FunctionSandbox is the Content-Security-Policy every answer of a function URL or an HTTP route
// carries, besides any the function sets (a browser enforces every policy it gets, so the
// function's own still applies). Functions are served on the origin of the console and the API;
// sandboxed without allow-same-origin, a function's page runs in an opaque origin of its own: it
// renders, runs scripts, submits forms and opens popups, but it cannot read the origin's storage
// (the console keeps the API token in session storage), read or write its cookies, register a
// service worker, or call the API as the origin.
const FunctionSandbox = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

// droppedHeaders are the headers of a function's answer that would set state for the whole
// origin, or the whole host, that the console and every other function share. Cookies are not
// isolated by path or port, so a function's cookie reaches the console and the other functions;
// a function that needs cookies needs an origin of its own, which the gateway does not offer.
var droppedHeaders = []string{
	"Set-Cookie",                // cookies (the "cookies" of a Lambda-shaped answer too)
	"Service-Worker-Allowed",    // a service worker scope beyond the function's path, up to /
	"Clear-Site-Data",           // wiping the console's storage and cookies
	"Strict-Transport-Security", // the host's HSTS is the operator's, not a function's
	"NEL",                       // origin-wide network error reports, to an endpoint of its choice
	"Report-To",                 // the endpoints of those reports
	"Alt-Svc",                   // origin-wide alternative services
}

// isolateHeaders applies the header policy of function answers to h: drops the headers that set
// origin-wide state, adds FunctionSandbox and nosniff. It may be applied more than once.
func isolateHeaders(h http.Header) {
	for _, k := range droppedHeaders {
		h.Del(k)
	}
	if !slices.Contains(h.Values("Content-Security-Policy"), FunctionSandbox) {
		h.Add("Content-Security-Policy", FunctionSandbox)
	}
	h.Set("X-Content-Type-Options", "nosniff")
}

// isolated serves function URLs and routes: whatever next writes, the function's answer or an
// error of the gateway, goes out under isolateHeaders.
func isolated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(&isolatedWriter{ResponseWriter: w}, r)
	}
}

// isolatedWriter applies isolateHeaders when the header is written: after the function's headers
// have been copied, so none of them can replace or remove the policy.
type isolatedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *isolatedWriter) WriteHeader(status int) {
	isolateHeaders(w.Header()) // each time: informational answers send their headers too
	if status >= 200 || status == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *isolatedWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *isolatedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
