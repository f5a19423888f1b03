// Package access decides who a request comes from and whether its route lets that caller in.
//
// A caller is the node's admin (its token as a bearer token, or a signature by the admin key id
// with the token as secret) or an access key (its bearer token ID.SECRET, or an AWS Signature
// Version 4 made with its id and secret). Routes name the action they take (keys.Action) in a
// table by their path template; a route that is in no table is the admin's alone.
package access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
	"sluice.dev/services/sigv4"
)

// Keys finds access keys: keys.Store.
type Keys interface {
	Get(ctx context.Context, id string) (keys.Key, error)
	Bearer(ctx context.Context, token string) (keys.Key, error)
	Secret(k keys.Key) (string, error)
}

// Guard authenticates requests against the node's token and its access keys.
type Guard struct {
	token string
	keys  Keys // nil: the token alone
}

// New makes a guard; ks may be nil, and then only the token is accepted.
func New(token string, ks Keys) *Guard { return &Guard{token: token, keys: ks} }

// Errors of Caller.
var (
	// ErrNoCredentials: the request carries no token and no signature.
	ErrNoCredentials = errors.New("no credentials")
	// ErrBadCredentials: a token or signature that names no key, or does not check.
	ErrBadCredentials = errors.New("invalid credentials")
)

// maxSigned bounds the body of a signed request, which is read to check its signature.
const maxSigned = 70 << 20

// Caller finds who sent r. A signed request (AWS Signature Version 4 for service, when service
// is not empty) has its body read to check it, and put back. Errors wrap ErrNoCredentials,
// ErrBadCredentials or sigv4's.
func (g *Guard) Caller(r *http.Request, service string) (keys.Key, error) {
	if service != "" && sigv4.Signed(r) {
		// The key is found before the body is read: only a request naming a real key makes the
		// server hold its body to check the signature.
		caller, secret, err := g.signer(r.Context(), sigv4.KeyID(r))
		if err != nil {
			return keys.Key{}, err
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSigned+1))
		if err != nil {
			return keys.Key{}, fmt.Errorf("read the body: %w", err)
		}
		if len(body) > maxSigned {
			return keys.Key{}, fmt.Errorf("%w: a signed body over %d bytes", ErrBadCredentials, maxSigned)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		_, err = sigv4.Verify(r.Context(), r, body, time.Now(), service, func(_ context.Context, id string) (string, error) {
			if id != caller.ID {
				return "", sigv4.ErrUnknown
			}
			return secret, nil
		})
		if err != nil {
			return keys.Key{}, err
		}
		return caller, nil
	}
	token := httpjson.BearerToken(r)
	switch {
	case token == "":
		return keys.Key{}, ErrNoCredentials
	case httpjson.ValidToken(token, g.token):
		return keys.Admin(g.token), nil
	case g.keys == nil:
		return keys.Key{}, ErrBadCredentials
	}
	k, err := g.keys.Bearer(r.Context(), token)
	if errors.Is(err, keys.ErrNotFound) {
		return keys.Key{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	return k, err
}

// signer finds the key a signature names, the admin's or a stored one, with its secret;
// sigv4.ErrUnknown when there is none.
func (g *Guard) signer(ctx context.Context, id string) (keys.Key, string, error) {
	if g.token != "" && id == keys.AdminKeyID(g.token) {
		return keys.Admin(g.token), g.token, nil
	}
	if id == "" || g.keys == nil {
		return keys.Key{}, "", fmt.Errorf("%w: %q", sigv4.ErrUnknown, id)
	}
	k, err := g.keys.Get(ctx, id)
	if errors.Is(err, keys.ErrNotFound) {
		return keys.Key{}, "", fmt.Errorf("%w: %q", sigv4.ErrUnknown, id)
	}
	if err != nil {
		return keys.Key{}, "", err
	}
	secret, err := g.keys.Secret(k)
	return k, secret, err
}

type callerKey struct{}

// WithCaller puts the caller in ctx.
func WithCaller(ctx context.Context, k keys.Key) context.Context {
	return context.WithValue(ctx, callerKey{}, k)
}

// CallerOf is the caller Authenticate put in ctx; without one (a request that passed no
// guard), the admin.
func CallerOf(ctx context.Context) keys.Key {
	if k, ok := ctx.Value(callerKey{}).(keys.Key); ok {
		return k
	}
	return keys.Key{Scope: keys.ScopeAdmin}
}

// ErrForbidden: the caller is known, and the route is not for it.
var ErrForbidden = errors.New("forbidden")

// Deny answers a refused request: err wraps ErrForbidden when the caller may not take the
// route, else it says why the caller is not known (ErrNoCredentials, ErrBadCredentials, or
// sigv4's errors).
type Deny func(w http.ResponseWriter, r *http.Request, err error)

// Route is the action a route takes, and the path variable that names its function ("" when
// it names none). Name, when set, reads the function's name out of that variable (which may
// carry more, such as a qualifier or an ARN), so the check is on the function the handler
// will take, whatever the rest of the variable matches.
type Route struct {
	Action   keys.Action
	Function string
	Name     func(string) string
}

// Routes maps "METHOD /path/{template}" (gorilla/mux's template of the matched route) to what
// the route takes.
type Routes map[string]Route

// Merge joins route tables.
func Merge(tables ...Routes) Routes {
	out := Routes{}
	for _, t := range tables {
		maps.Copy(out, t)
	}
	return out
}

// Protect authenticates every request of a router (service names the signatures it takes, ""
// for bearer tokens alone) and lets through those whose caller the matched route allows; the
// caller goes into the request's context for handlers that cut lists or check bodies. Use it
// as the router's middleware, so the route is matched before it runs.
func (g *Guard) Protect(service string, routes Routes, deny Deny) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			caller, err := g.Caller(r, service)
			if err != nil {
				deny(w, r, err)
				return
			}
			rt := Route{Action: keys.Administer}
			if cur := mux.CurrentRoute(r); cur != nil {
				if tpl, err := cur.GetPathTemplate(); err == nil {
					if x, ok := routes[r.Method+" "+tpl]; ok {
						rt = x
					}
				}
			}
			fn := ""
			if rt.Function != "" {
				fn = mux.Vars(r)[rt.Function]
				if rt.Name != nil {
					fn = rt.Name(fn)
				}
			}
			if !caller.Allows(rt.Action, fn) {
				deny(w, r, Refusal(caller, rt.Action, fn))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), caller)))
		})
	}
}

// Refusal is the error (ErrForbidden) saying why caller may not take action on fn.
func Refusal(caller keys.Key, a keys.Action, fn string) error {
	what := map[keys.Action]string{keys.Invoke: "invoke", keys.Read: "read", keys.Deploy: "change", keys.Administer: "administer the node"}[a]
	if fn != "" {
		what += " function " + fn
	}
	limit := ""
	if caller.Functions != "" {
		limit = " limited to functions " + caller.Functions
	}
	return fmt.Errorf("%w: access key %s (scope %s%s) may not %s", ErrForbidden, caller.ID, caller.Scope, limit, what)
}

// Require lets through to h the requests whose caller may take action (on no function), as
// Protect does a router's.
func (g *Guard) Require(a keys.Action, deny Deny, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := g.Caller(r, "")
		if err == nil && !caller.Allows(a, "") {
			err = Refusal(caller, a, "")
		}
		if err != nil {
			deny(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), caller)))
	})
}

// DenyJSON answers a refusal as sluice's own API does: 401 with WWW-Authenticate for a caller
// not known, 403 for one the route is not for.
func DenyJSON(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, ErrForbidden) {
		httpjson.Error(w, http.StatusForbidden, CodeForbidden, "%v", err)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	httpjson.Error(w, http.StatusUnauthorized, httpjson.CodeUnauthorized, "missing or wrong token (%v): send Authorization: Bearer $SLUICE_TOKEN, or an access key's token", err)
}

// CodeForbidden is the error code of a caller a route is not for.
const CodeForbidden = "forbidden"

// MaySend checks that the caller of ctx may give a function the destinations of cfg: a function
// destination must be one it may invoke, and a NATS subject, which a queue trigger may take to
// any function, needs a key limited to no functions.
func MaySend(ctx context.Context, cfg events.Config) error {
	caller := CallerOf(ctx)
	for _, s := range []string{cfg.OnSuccess, cfg.OnFailure} {
		d, err := events.ParseDestination(s)
		if err != nil {
			return err // CheckConfig says it better
		}
		switch {
		case d.Kind == events.DestinationFunction && !caller.Allows(keys.Invoke, d.Target):
			return Refusal(caller, keys.Invoke, d.Target)
		case d.Kind == events.DestinationNATS && (caller.Functions != "" || !caller.Allows(keys.Deploy, "")):
			return fmt.Errorf("%w: access key %s is limited to functions %q: it may not send outcomes to NATS subjects", ErrForbidden, caller.ID, caller.Functions)
		}
	}
	return nil
}

// Allowed reports whether the caller of ctx may take action on fn: for handlers whose function
// is in the body, or that cut a list.
func Allowed(ctx context.Context, a keys.Action, fn string) bool {
	return CallerOf(ctx).Allows(a, fn)
}
