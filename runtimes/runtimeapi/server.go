package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// MaxResponse is the largest response or error body a function may post, as in AWS Lambda.
const MaxResponse = 6 << 20

// Errors returned by Invoke and New.
var (
	ErrClosed = errors.New("runtime api closed")
	ErrBusy   = errors.New("as many invocations as the instance's concurrency are in flight")
)

const (
	prefix     = "/2018-06-01/runtime"
	pathNext   = prefix + "/invocation/next"
	pathInv    = prefix + "/invocation/"
	pathInitEr = prefix + "/init/error"
	pathSpec   = prefix + "/sluice/specialize"
)

// Options configure a Server.
type Options struct {
	Function string // function name, for the invoked function ARN
	Version  int    // function version, for the invoked function ARN
	// Listener, when set, is served instead of a new 127.0.0.1:0 TCP listener (a Unix socket, a
	// listener opened inside another network namespace). The Server closes it on Close.
	Listener net.Listener
	// Concurrency is how many invocations may be in flight at once, each handed to its own
	// pending /next (a runtime serving N at once keeps N connections asking); 1 when zero.
	Concurrency int
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

// Server serves the Runtime API for one instance.
type Server struct {
	ln   net.Listener
	arn  atomic.Pointer[string] // the invoked function ARN; set again by Specialize
	next chan *Invocation
	spec chan []byte // a specialization's JSON body, handed to /sluice/specialize
	conc int         // invocations allowed in flight at once

	mu sync.Mutex
	// inflight holds, per wire id of an invocation handed in and not yet answered or abandoned,
	// the channel (buffered 1, sent to under mu only) its answer goes to.
	inflight    map[string]chan Result
	started     bool // an invocation has been handed in; /init/error is refused after
	specialized bool // Specialize was called

	ready       chan struct{}
	readyOnce   sync.Once
	waiting     chan struct{} // closed on the first /sluice/specialize
	waitingOnce sync.Once
	initErr     chan *FunctionError // buffered 1
	closed      chan struct{}
	closeOnce   sync.Once

	connMu sync.Mutex
	conns  map[net.Conn]struct{} // open connections, closed by Close
	wg     sync.WaitGroup        // the accept loop and one goroutine per connection
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
		ln:       ln,
		next:     make(chan *Invocation),
		spec:     make(chan []byte),
		waiting:  make(chan struct{}),
		conc:     max(opts.Concurrency, 1),
		inflight: map[string]chan Result{},
		ready:    make(chan struct{}),
		initErr:  make(chan *FunctionError, 1),
		closed:   make(chan struct{}),
		conns:    map[net.Conn]struct{}{},
	}
	s.setARN(opts.Function, opts.Version)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the host:port (or socket path) for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Ready is closed when the bootstrap first asks for an invocation.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// InitError delivers the error the bootstrap posted to /init/error, at most once.
func (s *Server) InitError() <-chan *FunctionError { return s.initErr }

// Invoke hands inv to a pending /next of the bootstrap and waits for its answer. It returns
// ctx's error if ctx ends first (the invocation is abandoned: a late answer is refused),
// ErrClosed after Close, ErrBusy when Options.Concurrency invocations are in flight already. An
// id already in flight is refused too.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) (Result, error) {
	if inv.ID == "" {
		return Result{}, errors.New("invocation without an id")
	}
	id := WireID(inv.ID)
	res := make(chan Result, 1)
	s.mu.Lock()
	if _, dup := s.inflight[id]; dup {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("invocation %s is already in flight", inv.ID)
	}
	if len(s.inflight) >= s.conc {
		s.mu.Unlock()
		return Result{}, ErrBusy
	}
	s.inflight[id], s.started = res, true
	s.mu.Unlock()

	select {
	case s.next <- inv:
	case <-ctx.Done():
		s.abandon(id)
		return Result{}, ctx.Err()
	case <-s.closed:
		s.abandon(id)
		return Result{}, ErrClosed
	}
	select {
	case r := <-res:
		return r, nil
	case <-ctx.Done():
		s.abandon(id)
		return Result{}, ctx.Err()
	case <-s.closed:
		select { // an answer posted just before the process went away still counts
		case r := <-res:
			return r, nil
		default:
		}
		s.abandon(id)
		return Result{}, ErrClosed
	}
}

// WireID is how an invocation id travels on the Runtime API: in the
// Lambda-Runtime-Aws-Request-Id header and in the /invocation/{id}/ paths that runtimes build from
// it. Ids that are safe URL path segments travel unchanged; others are percent-escaped, so any
// id (a CloudEvent id may hold slashes or spaces) round-trips.
func WireID(id string) string { return url.PathEscape(id) }

// abandon forgets an invocation in flight; a late answer for it is refused.
func (s *Server) abandon(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.mu.Unlock()
}

// complete records the answer for id if id is in flight.
func (s *Server) complete(id string, r Result) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, ok := s.inflight[id]
	if !ok {
		return false
	}
	delete(s.inflight, id)
	res <- r // never blocks: one answer per handed-in invocation
	return true
}

// Close stops serving, unblocks Invoke and the bootstrap's pending /next, closes every
// connection and waits for the server's goroutines. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.ln.Close()
		s.connMu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.connMu.Unlock()
		s.wg.Wait()
	})
	return nil
}
