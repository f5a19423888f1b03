package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// RoutePrefix is where HTTP route triggers are served: a route /orders/{id} answers at
// /r/orders/{id}, clear of /v1, /fn, /healthz, /metrics and the console.
const RoutePrefix = "/r"

// route is one HTTP trigger, compiled.
type route struct {
	id, function string
	spec         events.HTTPSpec
	segs         []string // literal segments, or "{name}" / "{name+}" (the rest of the path)
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var methodToken = regexp.MustCompile(`^[A-Z]+$`)

// compileRoute checks an HTTP spec and splits its path.
func compileRoute(t events.Trigger) (route, error) {
	if t.Kind != events.TriggerHTTP || t.HTTP == nil {
		return route{}, fmt.Errorf("%w: not an http trigger", events.ErrInvalidTrigger)
	}
	s := *t.HTTP
	if !strings.HasPrefix(s.Path, "/") {
		return route{}, fmt.Errorf("%w: http path %q: start it with /", events.ErrInvalidTrigger, s.Path)
	}
	if s.Method != "" && (!methodToken.MatchString(s.Method) || s.Method == http.MethodOptions && len(s.CORS) > 0) {
		return route{}, fmt.Errorf("%w: http method %q: use GET, POST, PUT, DELETE… in capitals (OPTIONS answers CORS preflights itself)", events.ErrInvalidTrigger, s.Method)
	}
	for _, o := range s.CORS {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return route{}, fmt.Errorf("%w: CORS origin %q: use scheme://host[:port] or *", events.ErrInvalidTrigger, o)
		}
	}
	r := route{id: t.ID, function: t.Function, spec: s}
	seen := map[string]bool{}
	parts := strings.Split(strings.Trim(s.Path, "/"), "/")
	if s.Path == "/" {
		parts = nil
	}
	for i, p := range parts {
		if p == "" {
			return route{}, fmt.Errorf("%w: http path %q has an empty segment", events.ErrInvalidTrigger, s.Path)
		}
		if strings.HasPrefix(p, "{") || strings.HasSuffix(p, "}") {
			name, greedy := strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}"), false
			if name, greedy = strings.CutSuffix(name, "+"); greedy && i != len(parts)-1 {
				return route{}, fmt.Errorf("%w: http path %q: {%s+} must be the last segment", events.ErrInvalidTrigger, s.Path, name)
			}
			if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") || !paramName.MatchString(name) || seen[name] {
				return route{}, fmt.Errorf("%w: http path %q: parameter %q: use {name} (letters, digits, _; each once) or {name+} last", events.ErrInvalidTrigger, s.Path, p)
			}
			seen[name] = true
		} else if strings.ContainsAny(p, "{}") {
			return route{}, fmt.Errorf("%w: http path %q: a parameter takes a whole segment", events.ErrInvalidTrigger, s.Path)
		}
		r.segs = append(r.segs, p)
	}
	return r, nil
}

// match returns the path parameters when path (after RoutePrefix) is this route's.
func (r route) match(path string) (map[string]string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if strings.Trim(path, "/") == "" {
		parts = nil
	}
	params := map[string]string{}
	for i, s := range r.segs {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(s, "{"), "+}"); ok && strings.HasPrefix(s, "{") {
			if i >= len(parts) {
				return nil, false
			}
			params[name] = strings.Join(parts[i:], "/")
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		if strings.HasPrefix(s, "{") {
			v, err := url.PathUnescape(parts[i])
			if err != nil {
				return nil, false
			}
			params[strings.Trim(s, "{}")] = v
		} else if s != parts[i] {
			return nil, false
		}
	}
	if len(parts) != len(r.segs) {
		return nil, false
	}
	return params, true
}

// literals counts the literal segments: routes with more win.
func (r route) literals() int {
	n := 0
	for _, s := range r.segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// RouteFactory checks an HTTP trigger spec for the API and the manager. The gateway serves the
// route itself; the adapter only reports the spec as running in its status.
func RouteFactory(spec events.Trigger) (trigger.Adapter, error) {
	if _, err := compileRoute(spec); err != nil {
		return nil, err
	}
	return routeAdapter{}, nil
}

type routeAdapter struct{}

func (routeAdapter) Run(ctx context.Context, _ trigger.Publisher, report trigger.Reporter) error {
	report(events.TriggerStatus{State: events.StateRunning})
	<-ctx.Done()
	return nil
}

// routeTable is the live set of HTTP routes, following the sluice_triggers bucket.
type routeTable struct {
	w      jetstream.KeyWatcher
	done   chan struct{}
	logger *slog.Logger

	mu     sync.RWMutex
	routes map[string]route // by trigger id
}

// openRoutes loads the routes and keeps following the bucket until close.
func openRoutes(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) (*routeTable, error) {
	kv, err := js.KeyValue(ctx, events.BucketTriggers)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	w, err := kv.Watch(context.WithoutCancel(ctx), events.TriggerKey(">"))
	if err != nil {
		return nil, fmt.Errorf("routes: watch: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &routeTable{w: w, done: make(chan struct{}), logger: logger, routes: map[string]route{}}
	loaded := make(chan struct{})
	go t.follow(loaded)
	select {
	case <-loaded:
		return t, nil
	case <-ctx.Done():
		t.close()
		return nil, ctx.Err()
	}
}

func (t *routeTable) close() {
	_ = t.w.Stop()
	<-t.done
}

func (t *routeTable) follow(loaded chan struct{}) {
	defer close(t.done)
	once := sync.OnceFunc(func() { close(loaded) })
	defer once()
	for e := range t.w.Updates() {
		if e == nil {
			once()
			continue
		}
		id := strings.TrimPrefix(e.Key(), events.TriggerKey(""))
		var spec events.Trigger
		ok := e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &spec) == nil && spec.Kind == events.TriggerHTTP
		var r route
		if ok {
			var err error
			if r, err = compileRoute(spec); err != nil {
				t.logger.Warn("http route not served", "trigger", id, "err", err)
				ok = false
			}
		}
		t.mu.Lock()
		if ok {
			t.routes[id] = r
		} else {
			delete(t.routes, id)
		}
		t.mu.Unlock()
	}
}

// find returns the routes whose path matches, best first (most literal segments, then id),
// with their parameters.
func (t *routeTable) find(path string) ([]route, []map[string]string) {
	t.mu.RLock()
	var found []route
	for _, r := range t.routes {
		if _, ok := r.match(path); ok {
			found = append(found, r)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(found, func(a, b route) int {
		if d := b.literals() - a.literals(); d != 0 {
			return d
		}
		return strings.Compare(a.id, b.id)
	})
	params := make([]map[string]string, len(found))
	for i, r := range found {
		params[i], _ = r.match(path)
	}
	return found, params
}
