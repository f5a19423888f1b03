package route

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Route is one HTTP trigger, checked and split into segments.
type Route struct {
	ID       string // the trigger's id
	Function string
	Spec     events.HTTPSpec
	segs     []string // literal segments, or "{name}" / "{name+}" (the rest of the path)
}

var (
	paramName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	methodToken = regexp.MustCompile(`^[A-Z]+$`)
)

// Compile checks an HTTP trigger spec and splits its path. A bad spec is an error wrapping
// events.ErrInvalidTrigger that says what to change.
func Compile(t events.Trigger) (Route, error) {
	if t.Kind != events.TriggerHTTP || t.HTTP == nil {
		return Route{}, fmt.Errorf("%w: not an http trigger", events.ErrInvalidTrigger)
	}
	s := *t.HTTP
	if !strings.HasPrefix(s.Path, "/") {
		return Route{}, fmt.Errorf("%w: http path %q: start it with /", events.ErrInvalidTrigger, s.Path)
	}
	if s.Method != "" && (!methodToken.MatchString(s.Method) || s.Method == http.MethodOptions && len(s.CORS) > 0) {
		return Route{}, fmt.Errorf("%w: http method %q: use GET, POST, PUT, DELETE… in capitals (OPTIONS answers CORS preflights itself)", events.ErrInvalidTrigger, s.Method)
	}
	for _, o := range s.CORS {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return Route{}, fmt.Errorf("%w: CORS origin %q: use scheme://host[:port] or *", events.ErrInvalidTrigger, o)
		}
	}
	r := Route{ID: t.ID, Function: t.Function, Spec: s}
	seen := map[string]bool{}
	parts := strings.Split(strings.Trim(s.Path, "/"), "/")
	if s.Path == "/" {
		parts = nil
	}
	for i, p := range parts {
		if p == "" {
			return Route{}, fmt.Errorf("%w: http path %q has an empty segment", events.ErrInvalidTrigger, s.Path)
		}
		if strings.HasPrefix(p, "{") || strings.HasSuffix(p, "}") {
			name, greedy := strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}"), false
			if name, greedy = strings.CutSuffix(name, "+"); greedy && i != len(parts)-1 {
				return Route{}, fmt.Errorf("%w: http path %q: {%s+} must be the last segment", events.ErrInvalidTrigger, s.Path, name)
			}
			if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") || !paramName.MatchString(name) || seen[name] {
				return Route{}, fmt.Errorf("%w: http path %q: parameter %q: use {name} (letters, digits, _; each once) or {name+} last", events.ErrInvalidTrigger, s.Path, p)
			}
			seen[name] = true
		} else if strings.ContainsAny(p, "{}") {
			return Route{}, fmt.Errorf("%w: http path %q: a parameter takes a whole segment", events.ErrInvalidTrigger, s.Path)
		}
		r.segs = append(r.segs, p)
	}
	return r, nil
}

// match returns the path parameters when path (the request's escaped path below the gateway's
// prefix) is this route's.
func (r Route) match(path string) (map[string]string, bool) {
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
func (r Route) literals() int {
	n := 0
	for _, s := range r.segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// Allows reports whether the route takes requests of method (a route without a method takes
// every one).
func (r Route) Allows(method string) bool { return r.Spec.Method == "" || r.Spec.Method == method }

// Key is the event's routeKey: "METHOD PATH", ANY for a route without a method.
func (r Route) Key() string {
	method := r.Spec.Method
	if method == "" {
		method = "ANY"
	}
	return method + " " + r.Spec.Path
}

// Source is the CloudEvent source of the route's events: /sluice/route/<trigger id>.
func (r Route) Source() string { return "/sluice/route/" + r.ID }

// Match is a route that matched a path, with the path's parameters.
type Match struct {
	Route
	Params map[string]string
}

// Pick returns the first of matches (best first, as Table.Find gives them) that allows method.
func Pick(matches []Match, method string) (Match, bool) {
	i := slices.IndexFunc(matches, func(m Match) bool { return m.Allows(method) })
	if i < 0 {
		return Match{}, false
	}
	return matches[i], true
}

// Methods lists the methods of matches, each once, in their order ("" for a route that takes
// any).
func Methods(matches []Match) []string {
	var ms []string
	for _, m := range matches {
		if !slices.Contains(ms, m.Spec.Method) {
			ms = append(ms, m.Spec.Method)
		}
	}
	return ms
}

// Factory checks an HTTP trigger spec for the API and the adapters role (it is the kind's
// trigger.Factory). The gateway serves the route; the adapter only reports it as running.
func Factory(spec events.Trigger) (trigger.Adapter, error) {
	if _, err := Compile(spec); err != nil {
		return nil, err
	}
	return trigger.Served{}, nil // the gateway serves it
}
