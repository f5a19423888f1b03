package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxResponse is the largest response or error body a function may post, as in AWS Lambda.
const MaxResponse = 6 << 20

// Errors returned by Invoke and New.
var (
	ErrClosed = errors.New("runtime api closed")
	ErrBusy   = errors.New("an invocation is already in flight")
)

const (
	prefix     = "/2018-06-01/runtime"
	pathNext   = prefix + "/invocation/next"
	pathInv    = prefix + "/invocation/"
	pathInitEr = prefix + "/init/error"
)

// Options configure a Server.
type Options struct {
	Function string // function name, for the invoked function ARN
	Version  int    // function version, for the invoked function ARN
	// Listener, when set, is served instead of a new 127.0.0.1:0 TCP listener (a Unix socket, a
	// listener opened inside another network namespace). The Server closes it on Close.
	Listener net.Listener
}

// Invocation is what Invoke hands to the function.
type Invocation struct {
	ID              string
	Deadline        time.Time
	Payload         []byte
	TraceID         string            // sent as Lambda-Runtime-Trace-Id; derived from ID when empty
	ClientContext   string            // sent as Lambda-Runtime-Client-Context when set
	CognitoIdentity string            // sent as Lambda-Runtime-Cognito-Identity when set
	Attributes      map[string]string // CloudEvent attributes, sent as Sluice-Event-Attributes
}

// FunctionError is the body of an /error or /init/error post.
type FunctionError struct {
	Type    string   `json:"errorType"`
	Message string   `json:"errorMessage"`
	Trace   []string `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Result is the outcome of one invocation: Payload when the function answered /response, Error
// when it answered /error (or its response was too large).
type Result struct {
	Payload []byte
	Error   *FunctionError
}

type result struct {
	id string
	Result
}

// Server serves the Runtime API for one instance.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	arn  []string
	next chan *Invocation
	res  chan result // buffered 1; sent to under mu only

	mu       sync.Mutex
	inflight string // id of the invocation handed in and not yet answered or abandoned
	started  bool   // an invocation has been handed in; /init/error is refused after

	ready     chan struct{}
	readyOnce sync.Once
	initErr   chan *FunctionError // buffered 1
	closed    chan struct{}
	closeOnce sync.Once
	served    chan struct{}
}

// New starts a Server on opts.Listener or on a new 127.0.0.1:0 listener.
func New(opts Options) (*Server, error) {
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("runtime api listen: %w", err)
		}
	}
	s := &Server{
		ln:      ln,
		arn:     []string{"arn:aws:lambda:local:000000000000:function:" + opts.Function + ":" + strconv.Itoa(opts.Version)},
		next:    make(chan *Invocation),
		res:     make(chan result, 1),
		ready:   make(chan struct{}),
		initErr: make(chan *FunctionError, 1),
		closed:  make(chan struct{}),
		served:  make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// Addr is the host:port (or socket path) for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Ready is closed when the bootstrap first asks for an invocation.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// InitError delivers the error the bootstrap posted to /init/error, at most once.
func (s *Server) InitError() <-chan *FunctionError { return s.initErr }

// Invoke hands inv to the bootstrap's /next and waits for its answer. It returns ctx's error if
// ctx ends first (the invocation is abandoned: a late answer is refused), ErrClosed after Close,
// ErrBusy if another invocation is in flight.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) (Result, error) {
	s.mu.Lock()
	if s.inflight != "" {
		s.mu.Unlock()
		return Result{}, ErrBusy
	}
	s.inflight, s.started = inv.ID, true
	s.mu.Unlock()

	select {
	case s.next <- inv:
	case <-ctx.Done():
		s.abandon(inv.ID)
		return Result{}, ctx.Err()
	case <-s.closed:
		s.abandon(inv.ID)
		return Result{}, ErrClosed
	}
	for {
		select {
		case r := <-s.res:
			if r.id != inv.ID {
				continue // an answer to an abandoned invocation; cannot happen, but never mix them up
			}
			return r.Result, nil
		case <-ctx.Done():
			s.abandon(inv.ID)
			return Result{}, ctx.Err()
		case <-s.closed:
			select { // an answer posted just before the process went away still counts
			case r := <-s.res:
				if r.id == inv.ID {
					return r.Result, nil
				}
			default:
			}
			s.abandon(inv.ID)
			return Result{}, ErrClosed
		}
	}
}

// abandon forgets the in-flight invocation id and any answer already queued for it.
func (s *Server) abandon(id string) {
	s.mu.Lock()
	if s.inflight == id {
		s.inflight = ""
	}
	select {
	case <-s.res:
	default:
	}
	s.mu.Unlock()
}

// complete records the answer for id if id is in flight.
func (s *Server) complete(id string, r Result) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || s.inflight != id {
		return false
	}
	s.inflight = ""
	s.res <- result{id: id, Result: r} // never blocks: one answer per handed-in invocation
	return true
}

// Close stops serving, unblocks Invoke and the bootstrap's pending /next, and waits for the
// serving goroutine. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-s.served
	})
	return nil
}

// ServeHTTP routes the Runtime API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == pathNext:
		if r.Method != http.MethodGet {
			fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
			return
		}
		s.serveNext(w, r)
	case strings.HasPrefix(p, pathInv):
		if r.Method != http.MethodPost {
			fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
			return
		}
		id, kind, ok := strings.Cut(p[len(pathInv):], "/")
		switch {
		case ok && kind == "response":
			s.serveResponse(w, r, id)
		case ok && kind == "error":
			s.serveError(w, r, id)
		default:
			fail(w, http.StatusNotFound, "NotFound", "unknown path "+p)
		}
	case p == pathInitEr:
		if r.Method != http.MethodPost {
			fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
			return
		}
		s.serveInitError(w, r)
	default:
		fail(w, http.StatusNotFound, "NotFound", "unknown path "+p)
	}
}

func (s *Server) serveNext(w http.ResponseWriter, r *http.Request) {
	s.readyOnce.Do(func() { close(s.ready) })
	var inv *Invocation
	select {
	case inv = <-s.next:
	case <-r.Context().Done():
		return
	case <-s.closed:
		fail(w, http.StatusInternalServerError, "Runtime.Closed", "the instance is shutting down")
		return
	}
	h := w.Header()
	h["Content-Type"] = contentJSON
	h["Lambda-Runtime-Aws-Request-Id"] = []string{inv.ID}
	h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(inv.Deadline.UnixMilli(), 10)}
	h["Lambda-Runtime-Invoked-Function-Arn"] = s.arn
	trace := inv.TraceID
	if trace == "" {
		trace = traceID(inv.ID, inv.Deadline)
	}
	h["Lambda-Runtime-Trace-Id"] = []string{trace}
	if inv.ClientContext != "" {
		h["Lambda-Runtime-Client-Context"] = []string{inv.ClientContext}
	}
	if inv.CognitoIdentity != "" {
		h["Lambda-Runtime-Cognito-Identity"] = []string{inv.CognitoIdentity}
	}
	if len(inv.Attributes) > 0 {
		h["Sluice-Event-Attributes"] = []string{attributesJSON(inv.Attributes)}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(inv.Payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload) // a broken connection surfaces as the invocation's deadline
}

func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request, id string) {
	body, err := readBody(r)
	if errors.Is(err, errTooLarge) {
		s.complete(id, Result{Error: &FunctionError{
			Type:    "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("response payload size exceeded maximum allowed payload size (%d bytes)", MaxResponse),
		}})
		fail(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", err.Error())
		return
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if !s.complete(id, Result{Payload: body}) {
		fail(w, http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in flight")
		return
	}
	accepted(w)
}

func (s *Server) serveError(w http.ResponseWriter, r *http.Request, id string) {
	body, err := readBody(r)
	if err != nil && !errors.Is(err, errTooLarge) {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if !s.complete(id, Result{Error: parseError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"))}) {
		fail(w, http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in flight")
		return
	}
	accepted(w)
}

func (s *Server) serveInitError(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil && !errors.Is(err, errTooLarge) {
		fail(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		fail(w, http.StatusForbidden, "InvalidStateTransition", "init error after the first invocation")
		return
	}
	select {
	case s.initErr <- parseError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")):
	default: // the first init error wins
	}
	accepted(w)
}

var (
	contentJSON  = []string{"application/json"}
	acceptedBody = []byte(`{"status":"OK"}`)
	errTooLarge  = errors.New("body too large")
)

func accepted(w http.ResponseWriter) {
	w.Header()["Content-Type"] = contentJSON
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}

func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header()["Content-Type"] = contentJSON
	w.WriteHeader(status)
	_, _ = w.Write(appendError(nil, typ, msg))
}

// readBody reads a request body of at most MaxResponse bytes, allocating once when the length
// is known.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxResponse {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", errTooLarge, r.ContentLength, MaxResponse)
	}
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > MaxResponse {
		return nil, fmt.Errorf("%w: the limit is %d bytes", errTooLarge, MaxResponse)
	}
	return b, nil
}
