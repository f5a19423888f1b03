package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"sluice.dev/events"
)

// Resolver finds the version of a function a call addresses.
type Resolver interface {
	Resolve(ctx context.Context, name, qualifier string) (events.Version, error)
}

// Gateway publishes invocations and routes their replies. Safe for concurrent use.
type Gateway struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	fns     Resolver
	results jetstream.KeyValue
	logger  *slog.Logger
	token   string
	routes  *routeTable
	publish []jetstream.PublishOpt // events.PublishRetry, made once

	prefix  string // reply inbox prefix of this gateway
	sub     *nats.Subscription
	mu      sync.Mutex
	pending map[string]chan *nats.Msg
}

// Options wire a Gateway.
type Options struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Fns    Resolver
	Token  string // API token; function URLs of non-public functions need it too
	Logger *slog.Logger
}

// New subscribes to the gateway's reply inboxes. Close unsubscribes.
func New(ctx context.Context, o Options) (*Gateway, error) {
	results, err := o.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &Gateway{
		nc: o.NC, js: o.JS, fns: o.Fns, results: results, logger: o.Logger, token: o.Token, publish: events.PublishRetry(),
		prefix: nats.InboxPrefix + nuid.Next() + ".", pending: map[string]chan *nats.Msg{},
	}
	if g.routes, err = openRoutes(ctx, o.JS, o.Logger); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.sub, err = o.NC.Subscribe(g.prefix+"*", g.route)
	if err != nil {
		g.routes.close()
		return nil, fmt.Errorf("gateway: subscribe replies: %w", err)
	}
	return g, nil
}

// Close stops receiving replies and following the routes; calls still waiting end with their
// context.
func (g *Gateway) Close() error {
	g.routes.close()
	return g.sub.Unsubscribe()
}

func (g *Gateway) route(m *nats.Msg) {
	token := strings.TrimPrefix(m.Subject, g.prefix)
	g.mu.Lock()
	ch, ok := g.pending[token]
	delete(g.pending, token)
	g.mu.Unlock()
	if ok {
		ch <- m // buffered: one reply per inbox
	}
}

func (g *Gateway) expect() (inbox string, ch chan *nats.Msg, cancel func()) {
	token := nuid.Next()
	ch = make(chan *nats.Msg, 1)
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
