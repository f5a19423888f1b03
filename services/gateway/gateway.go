package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"sluice.dev/adapters/broker"
	"sluice.dev/adapters/route"
	"sluice.dev/events"
	"sluice.dev/services/access"
)

// Resolver finds the version of a function a call addresses.
type Resolver interface {
	Resolve(ctx context.Context, name, qualifier string) (events.Version, error)
}

// Local runs a synchronous call on a free warm instance in the gateway's own process (a worker
// beside it), without the bus; ok is false when it has no room, and the call takes the bus.
type Local interface {
	Call(fn string, ev event.Event) (res events.Result, ok bool)
}

// Gateway publishes invocations and routes their replies. Safe for concurrent use.
type Gateway struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	fns     Resolver
	results jetstream.KeyValue
	queue   jetstream.Stream // SLUICE_INVOKE, where a queued invocation's status is read
	local   Local            // nil when no worker runs in this process
	silence time.Duration    // Options.DirectSilence
	logger  *slog.Logger
	guard   *access.Guard
	routes  *route.Table
	subs    *broker.Table // CloudEvents subscriptions
	ingress *nats.Subscription
	publish []jetstream.PublishOpt // events.PublishRetry, made once

	prefix  string // reply inbox prefix of this gateway
	sub     *nats.Subscription
	mu      sync.Mutex
	pending map[string]chan *nats.Msg

	maxWaiting int            // synchronous calls of one function let wait at once
	waitMu     sync.Mutex     //
	waiting    map[string]int // synchronous calls waiting, by function
}

// Options wire a Gateway.
type Options struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Fns    Resolver
	Token  string       // API token; function URLs of non-public functions need it too
	Logger *slog.Logger // nil: none
	// Guard checks the callers of function URLs and routes of functions that are not public (a
	// key that may invoke the function, or the token); nil: the token alone.
	Guard *access.Guard
	// Local is the worker of this process, if one runs here: synchronous calls try its warm
	// instances first.
	Local Local
	// DirectSilence is how long a worker that took a direct call may say nothing before the
	// call is stored for the durable path; 0: events.DirectSilence.
	DirectSilence time.Duration
	// MaxWaiting is how many synchronous calls of one function this gateway lets wait at once
	// (queued or running); more get 429 with Retry-After. 0: DefaultMaxWaiting.
	MaxWaiting int
}

// DefaultMaxWaiting is the synchronous calls of one function a gateway lets wait at once by
// default: far more than a function's default 10 instances run, few enough that a flood of
// calls to one function cannot hold the gateway's connections and memory.
const DefaultMaxWaiting = 256

// ErrTooManyWaiting is a synchronous call refused because its function has MaxWaiting calls
// waiting at this gateway already.
var ErrTooManyWaiting = errors.New("too many synchronous calls waiting")

// New subscribes to the gateway's reply inboxes. Close unsubscribes.
func New(ctx context.Context, o Options) (*Gateway, error) {
	results, err := o.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	invoke, err := o.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &Gateway{
		nc: o.NC, js: o.JS, fns: o.Fns, results: results, queue: invoke, local: o.Local, silence: o.DirectSilence, logger: o.Logger, guard: o.Guard, publish: events.PublishRetry(),
		prefix: nats.InboxPrefix + nuid.Next() + ".", pending: map[string]chan *nats.Msg{},
		maxWaiting: o.MaxWaiting, waiting: map[string]int{},
	}
	if g.guard == nil {
		g.guard = access.New(o.Token, nil)
	}
	if g.maxWaiting <= 0 {
		g.maxWaiting = DefaultMaxWaiting
	}
	if g.silence <= 0 {
		g.silence = events.DirectSilence
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	triggers, err := o.JS.KeyValue(ctx, events.BucketTriggers)
	if err != nil {
		return nil, fmt.Errorf("gateway: routes: %w", err)
	}
	if g.routes, err = route.Open(ctx, triggers, o.Logger); err != nil {
		return nil, fmt.Errorf("gateway: routes: %w", err)
	}
	if g.subs, err = broker.Open(ctx, triggers, o.Logger); err != nil {
		g.routes.Close()
		return nil, fmt.Errorf("gateway: subscriptions: %w", err)
	}
	if g.ingress, err = o.NC.QueueSubscribe(events.IngressSubject, "sluice-gateway", g.ingestNATS); err != nil {
		g.close()
		return nil, fmt.Errorf("gateway: subscribe %s: %w", events.IngressSubject, err)
	}
	g.sub, err = o.NC.Subscribe(g.prefix+"*", g.route)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("gateway: subscribe replies: %w", err)
	}
	return g, nil
}

// close stops following the triggers and taking events from the bus.
func (g *Gateway) close() {
	if g.ingress != nil {
		_ = g.ingress.Unsubscribe()
	}
	g.subs.Close()
	g.routes.Close()
}

// Close stops receiving replies and following the routes; calls still waiting end with their
// context.
func (g *Gateway) Close() error {
	g.close()
	return g.sub.Unsubscribe()
}

// route hands a message on a reply inbox to the call waiting on it: its answer, after which the
// inbox is forgotten, or a worker's word on a direct call (events.DirectWord).
func (g *Gateway) route(m *nats.Msg) {
	token := strings.TrimPrefix(m.Subject, g.prefix)
	g.mu.Lock()
	ch, ok := g.pending[token]
	if events.DirectWord(m) == "" {
		delete(g.pending, token)
	}
	g.mu.Unlock()
	if ok {
		select {
		case ch <- m: // buffered: one answer and a few words, read as they come
		default: // a call that stopped reading; never hold up the other calls' replies
		}
	}
}

func (g *Gateway) expect() (inbox string, ch chan *nats.Msg, cancel func()) {
	token := nuid.Next()
	ch = make(chan *nats.Msg, 8)
	g.mu.Lock()
	g.pending[token] = ch
	g.mu.Unlock()
	return g.prefix + token, ch, func() {
		g.mu.Lock()
		delete(g.pending, token)
		g.mu.Unlock()
	}
}

// ErrNoAnswer is returned when no worker answered a synchronous call before its deadline.
var ErrNoAnswer = errors.New("no answer before the deadline")

// enter counts a synchronous call of fn in, unless fn has limit already.
func (g *Gateway) enter(fn string, limit int) bool {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	if g.waiting[fn] >= limit {
		return false
	}
	g.waiting[fn]++
	return true
}

// leave counts a synchronous call of fn out.
func (g *Gateway) leave(fn string) {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	if g.waiting[fn]--; g.waiting[fn] <= 0 {
		delete(g.waiting, fn)
	}
}
