package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/route"
	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/directory"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
)

// Routes mounts the invocation API (under auth, the caller's middleware) and function URLs
// (which check the token themselves, since public functions need none). Function URLs and HTTP
// routes answer under the header policy of isolated.
func (g *Gateway) Routes(api, root *mux.Router) {
	api.HandleFunc("/v1/functions/{name}/invocations", g.invoke).Methods(http.MethodPost)
	api.HandleFunc("/v1/invocations/{id:.+}", g.invocation).Methods(http.MethodGet) // ids from triggers may hold a /
	api.HandleFunc("/v1/events", g.ingest).Methods(http.MethodPost)
	root.HandleFunc("/fn/{name}", isolated(g.functionURL))
	root.HandleFunc("/fn/{name}/{path:.*}", isolated(g.functionURL))
	root.PathPrefix(RoutePrefix + "/").HandlerFunc(isolated(g.httpRoute))
}

func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	v, ok := g.resolve(w, r, name, r.URL.Query().Get("qualifier"))
	if !ok {
		return
	}
	body, ok := httpjson.ReadBody(w, r, events.MaxPayload)
	if !ok {
		return
	}
	call := Call{Version: v, Data: body, ContentType: r.Header.Get("Content-Type")}
	if r.Header.Get(wire.HeaderInvocationType) == wire.InvocationEvent {
		g.async(w, r, call)
		return
	}
	httpjson.Extend(w, SyncWait(v)+answerMargin)
	res, err := g.Sync(r.Context(), call)
	if err != nil {
		g.noResult(w, name, err)
		return
	}
	h := w.Header()
	h.Set(wire.HeaderInvocationID, res.ID)
	h.Set(wire.HeaderOutcome, string(res.Outcome))
	ran := res.Version
	if ran == 0 {
		ran = v.Version
	}
	h.Set(wire.HeaderVersion, strconv.Itoa(ran))
	h.Set("Content-Type", "application/json")
	if res.Outcome != events.OutcomeOK {
		h.Set(wire.HeaderFunctionError, string(res.Outcome))
		b, _ := json.Marshal(res.Error) // strings only
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

func (g *Gateway) invocation(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	res, err := g.Result(r.Context(), id)
	if err == nil && !access.Allowed(r.Context(), keys.Invoke, res.Function) {
		err = jetstream.ErrKeyNotFound // the caller's key does not reach its function: as if there were none
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		httpjson.Error(w, http.StatusNotFound, "invocation_not_found", "no invocation %q (results are kept for 24 hours)", id)
	case err != nil:
		g.unavailable(w, "", err)
	default:
		httpjson.Write(w, http.StatusOK, res)
	}
}

// functionURL serves /fn/NAME[:QUALIFIER][/PATH]: QUALIFIER is a version number or an alias (a
// weighted alias picks its version per request); X-Sluice-Version says which version ran.
func (g *Gateway) functionURL(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	name := vars["name"]
	qualifier := ""
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name, qualifier = name[:i], name[i+1:]
		if qualifier == "" {
			httpjson.Error(w, http.StatusNotFound, "function_not_found", "function URL /fn/%s: has an empty qualifier: use /fn/%s, /fn/%s:VERSION or /fn/%s:ALIAS", vars["name"], name, name, name)
			return
		}
	}
	v, ok := g.resolve(w, r, name, qualifier)
	if !ok {
		return
	}
	if !g.authorized(w, r, v.Config.Public, name, "function "+name) {
		return
	}
	body, ok := httpjson.ReadBody(w, r, events.MaxPayload)
	if !ok {
		return
	}
	id := uuid.NewString()
	data, ok := encodeHTTPEvent(w, route.NewEvent(r, "/"+vars["path"], body, id, time.Now()))
	if !ok {
		return
	}
	call := Call{ID: id, Minted: true, Version: v, Data: data, Type: events.TypeHTTPRequest, Trigger: "http", Source: "/sluice/fn/" + name, Subject: "/" + vars["path"]}
	g.answerHTTP(w, r, name, v, call)
}

// authorized lets a public target through, and others only for a caller that may invoke
// function fn (the token, or an access key); it answers 401 or 403 itself.
func (g *Gateway) authorized(w http.ResponseWriter, r *http.Request, public bool, fn, what string) bool {
	if public {
		return true
	}
	caller, err := g.guard.Caller(r, "")
	if err == nil && !caller.Allows(keys.Invoke, fn) {
		err = access.Refusal(caller, keys.Invoke, fn)
	}
	if err == nil {
		return true
	}
	if errors.Is(err, access.ErrForbidden) {
		httpjson.Error(w, http.StatusForbidden, access.CodeForbidden, "%s: %v", what, err)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	httpjson.Error(w, http.StatusUnauthorized, httpjson.CodeUnauthorized, "%s is not public: send Authorization: Bearer $SLUICE_TOKEN", what)
	return false
}

// mayQueue reports whether the caller of r may queue events on fn: the token or a key that may
// invoke it.
func (g *Gateway) mayQueue(r *http.Request, fn string) bool {
	caller, err := g.guard.Caller(r, "")
	return err == nil && caller.Allows(keys.Invoke, fn)
}

// encodeHTTPEvent encodes an HTTP request as event data, answering 413 itself when it is over
// the payload limit once encoded (a binary body grows by a third in base64).
func encodeHTTPEvent(w http.ResponseWriter, ev route.Event) ([]byte, bool) {
	data, err := json.Marshal(ev)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "encode request: %v", err)
		return nil, false
	}
	if len(data) > events.MaxPayload {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, httpjson.CodeTooLarge, "request is larger than the %d-byte limit once encoded as an event", events.MaxPayload)
		return nil, false
	}
	return data, true
}

// answerMargin is the time a synchronous call's connection is given past SyncWait to write its
// answer.
const answerMargin = 15 * time.Second

// answerHTTP runs an HTTP-shaped call (async with X-Sluice-Invocation-Type: Event) and writes the
// function's answer as the HTTP response. An asynchronous call without the token, on a public
// function URL or route, is taken only when the function allows it (PublicAsync): a queued event
// costs the node storage and runs, retries included, however many a caller sends, while a
// synchronous one holds its caller's connection and is bounded by MaxWaiting.
func (g *Gateway) answerHTTP(w http.ResponseWriter, r *http.Request, name string, v events.Version, call Call) {
	if r.Header.Get(wire.HeaderInvocationType) == wire.InvocationEvent {
		if !v.Config.PublicAsync && !g.mayQueue(r, name) {
			httpjson.Error(w, http.StatusForbidden, CodePublicAsync, "function %s takes asynchronous calls without the token only when deployed with --public-async: call it synchronously, or send Authorization: Bearer $SLUICE_TOKEN", name)
			return
		}
		g.async(w, r, call)
		return
	}
	httpjson.Extend(w, SyncWait(v)+answerMargin)
	res, err := g.Sync(r.Context(), call)
	if err != nil {
		g.noResult(w, name, err)
		return
	}
	w.Header().Set(wire.HeaderInvocationID, res.ID)
	w.Header().Set(wire.HeaderVersion, strconv.Itoa(v.Version))
	switch res.Outcome {
	case events.OutcomeOK:
		resp := NewHTTPResponse(res.Payload)
		for k, vs := range resp.Headers {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write(resp.Body)
	case events.OutcomeTimeout:
		httpjson.Error(w, http.StatusGatewayTimeout, "function_timeout", "function %s timed out after %s", name, v.Config.Timeout.D())
	default:
		msg := string(res.Outcome)
		if res.Error != nil {
			msg = res.Error.Error()
		}
		httpjson.Error(w, http.StatusBadGateway, "function_"+string(res.Outcome), "function %s failed: %s", name, msg)
	}
}

// async queues the call and answers 202 with its id.
func (g *Gateway) async(w http.ResponseWriter, r *http.Request, call Call) {
	id, err := g.Async(r.Context(), call)
	if err != nil {
		g.unavailable(w, call.Version.Function, err)
		return
	}
	w.Header().Set("Location", "/v1/invocations/"+id)
	w.Header().Set(wire.HeaderVersion, strconv.Itoa(call.Version.Version))
	httpjson.Write(w, http.StatusAccepted, wire.Accepted{InvocationID: id})
}

func (g *Gateway) resolve(w http.ResponseWriter, r *http.Request, name, qualifier string) (events.Version, bool) {
	v, err := g.fns.Resolve(r.Context(), name, qualifier)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "function_not_found", "%v", err)
		return v, false
	case err != nil:
		g.unavailable(w, name, err)
		return v, false
	}
	return v, true
}

func (g *Gateway) noResult(w http.ResponseWriter, name string, err error) {
	switch {
	case errors.Is(err, ErrNoAnswer):
		httpjson.Error(w, http.StatusGatewayTimeout, "no_answer", "%v: is a worker running?", err)
	case errors.Is(err, ErrTooManyWaiting):
		w.Header().Set("Retry-After", "1")
		httpjson.Error(w, http.StatusTooManyRequests, httpjson.CodeTooManyRequests, "%v: retry later, or invoke it asynchronously", err)
	default:
		g.unavailable(w, name, err)
	}
}

// CodePublicAsync: an asynchronous call without the token to a function that does not take them.
const CodePublicAsync = "public_async_refused"

func (g *Gateway) unavailable(w http.ResponseWriter, name string, err error) {
	if events.IsStoreFull(err) {
		g.logger.Warn("invocation refused: the invocation queue is full", "function", name, "err", err)
		w.Header().Set("Retry-After", "5")
		httpjson.Error(w, http.StatusInsufficientStorage, httpjson.CodeStoreFull,
			"the node's invocation queue is full (%s): nothing was queued and nothing queued before is lost; retry once queued invocations have run, or give the node more room (sluice up --store-max, or more free space under --data)", g.queueState())
		return
	}
	g.logger.Error("invocation failed", "function", name, "err", err)
	httpjson.Error(w, http.StatusServiceUnavailable, httpjson.CodeUnavailable, "%s", fmt.Sprint(err))
}

// queueState says how full SLUICE_INVOKE is, for the answer to a refused invocation.
func (g *Gateway) queueState() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := g.js.Stream(ctx, events.StreamInvoke)
	if err != nil {
		return events.StreamInvoke + " is at its limit"
	}
	st := s.CachedInfo()
	if st.Config.MaxBytes <= 0 {
		return events.StreamInvoke + " holds " + events.FormatSize(int64(st.State.Bytes)) + " and the bus's store has no room for more"
	}
	return fmt.Sprintf("%s holds %s of its %s, %d events waiting to run", events.StreamInvoke, events.FormatSize(int64(st.State.Bytes)), events.FormatSize(st.Config.MaxBytes), st.State.Msgs)
}
