package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"sluice.dev/services/httpjson"
)

// Timeouts of every HTTP listener of a node. The server-wide ones bound ordinary requests;
// handlers that legitimately last longer move their own connection's deadlines
// (httpjson.Extend): a synchronous invocation to its function's timeout plus the queue
// allowance (up to 15.5 minutes), a code upload or deploy to 15 minutes, a log stream to a
// deadline per line. A server-wide write timeout of 16 minutes would have let any slow reader
// hold a connection that long; per-request deadlines keep the default short.
const (
	// ReadHeaderTimeout is how long a client has to send a request's header: a client that
	// trickles it (slowloris) is cut off here.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout is how long a client has to send a whole request, body included: a 6 MiB
	// invocation at 100 KiB/s fits.
	ReadTimeout = time.Minute
	// WriteTimeout is how long an ordinary request has, from the end of its header to the end
	// of its answer.
	WriteTimeout = time.Minute
	// IdleTimeout is how long a kept-alive connection may wait for its next request.
	IdleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's header.
	maxHeaderBytes = 256 << 10
)

// newHTTPServer is an HTTP server with the node's timeouts.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// front is a node's HTTP listener from its first moment: until the node serves, /healthz
// answers 503 at once with the reason (sizing the store, waiting for the bus), and every other
// request waits up to startWait for the node to serve it (so a restarting gateway answers its
// callers late rather than with an error), then gets 503 with the reason; once the node serves,
// its router takes over.
type front struct {
	srv       *http.Server
	roles     []string
	handler   atomic.Pointer[http.Handler]
	reason    atomic.Pointer[string]
	ready     chan struct{} // closed by serve
	readyOnce sync.Once
	done      chan error // Serve's end
}

// startWait bounds how long a request other than /healthz waits for a starting node.
const startWait = 10 * time.Second

// startFront serves ln at once.
func startFront(ln net.Listener, roles []string, log *slog.Logger) *front {
	f := &front{roles: roles, ready: make(chan struct{}), done: make(chan error, 1)}
	f.starting("starting")
	f.srv = newHTTPServer(f, log)
	go func() {
		err := f.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		f.done <- err
	}()
	return f
}

// starting sets why the node does not serve yet.
func (f *front) starting(reason string) { f.reason.Store(&reason) }

// serve hands the listener to the node's router.
func (f *front) serve(h http.Handler) {
	f.handler.Store(&h)
	f.readyOnce.Do(func() { close(f.ready) })
}

// stop closes the listener and finishes the requests in flight, within ctx.
func (f *front) stop(ctx context.Context) error {
	if err := f.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("http drain: %w", err)
	}
	return nil
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := f.handler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/healthz" {
		t := time.NewTimer(startWait)
		defer t.Stop()
		select {
		case <-f.ready:
			(*f.handler.Load()).ServeHTTP(w, r)
			return
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
	reason := *f.reason.Load()
	w.Header().Set("Retry-After", "5")
	if r.URL.Path == "/healthz" {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "reason": reason, "roles": f.roles})
		return
	}
	httpjson.Error(w, http.StatusServiceUnavailable, httpjson.CodeUnavailable, "the node does not serve yet: %s", reason)
}
