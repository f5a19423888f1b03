package httpjson

import (
	"net/http"
	"time"
)

// Error codes of a node at its limits.
const (
	CodeTooManyRequests = "too_many_requests" // 429: come back after Retry-After
	CodeStoreFull       = "store_full"        // 507: the bus has no room for what was sent
)

// Extend lets the request run for d from now, its body read and its answer written by then: it
// moves the connection's read and write deadlines, which the server set from its ReadTimeout and
// WriteTimeout for ordinary requests. Handlers that legitimately take longer (a synchronous
// invocation waiting for its function, a code upload) call it; a zero d removes both deadlines,
// for streams that set their own per write. A writer that cannot reach its connection (a
// recorder in tests) is left as it is.
func Extend(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	var at time.Time
	if d > 0 {
		at = time.Now().Add(d)
	}
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}
