package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/codeurl"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
	"sluice.dev/services/registry"
)

// Error codes of the management API, beyond httpjson's.
const (
	CodeBadArchive       = "bad_archive"
	CodeInvalid          = "invalid"
	CodeFunctionNotFound = "function_not_found"
	CodeCodeNotFound     = "code_not_found"
	CodeFileNotFound     = "file_not_found"
	CodeVersionNotFound  = "version_not_found"
	CodeAliasNotFound    = "alias_not_found"
	CodeTriggerNotFound  = "trigger_not_found"
	CodeVersionInUse     = "version_in_use"     // 409: an alias uses the version, or it is the latest
	CodeNoObjectStorage  = "no_object_storage"  // 400: a code URL on a node without object storage
	CodeCodeURLNotFound  = "code_url_not_found" // 404: no such bucket or object
	CodeCodeURLDenied    = "code_url_denied"    // 502: the object store refused the node's credentials
	CodeCodeURLUnreached = "code_url_unreachable"
)

// longRequest is how long a code upload (its body at 100 KiB/s and more) or a deploy (its build)
// may take, past the server's deadlines for ordinary requests.
const longRequest = 15 * time.Minute

// API serves the management endpoints. It is safe for concurrent use.
type API struct {
	reg  *registry.Registry
	js   jetstream.JetStream
	log  *slog.Logger
	view View
}

// View is the live view of functions that serves invocations in this process. After a change, the
// API answers only once the view has applied it, so a caller invoking right after a deploy runs
// the version it deployed.
type View interface {
	Sync(ctx context.Context) error
}

// SyncTimeout bounds how long a change's answer waits for the view.
const SyncTimeout = 2 * time.Second

// New makes the API over a registry and the bus (for logs). view may be nil when no invocations
// are served in this process.
func New(reg *registry.Registry, js jetstream.JetStream, view View, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{reg: reg, js: js, view: view, log: logger}
}

// changes wraps a handler that writes to the functions bucket: a successful answer waits until
// the view has applied the change.
func (a *API) changes(h http.HandlerFunc) http.HandlerFunc {
	if a.view == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h(&syncedWriter{ResponseWriter: w, sync: func() {
			ctx, cancel := context.WithTimeout(r.Context(), SyncTimeout)
			defer cancel()
			if err := a.view.Sync(ctx); err != nil {
				a.log.Warn("api: change answered before the view applied it", "path", r.URL.Path, "err", err)
			}
		}}, r)
	}
}

// syncedWriter runs sync before the first successful status goes out.
type syncedWriter struct {
	http.ResponseWriter
	sync   func()
	headed bool
}

func (s *syncedWriter) WriteHeader(code int) {
	if !s.headed {
		s.headed = true
		if code < 300 {
			s.sync()
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (deploys move its deadlines).
func (s *syncedWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *syncedWriter) Write(b []byte) (int, error) {
	if !s.headed {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Routes adds the API's routes to r.
func (a *API) Routes(r *mux.Router) {
	r.HandleFunc("/v1/code", a.putCode).Methods(http.MethodPost)
	r.HandleFunc("/v1/functions", a.list).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}", a.changes(a.deploy)).Methods(http.MethodPut)
	r.HandleFunc("/v1/functions/{name}", a.get).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}", a.changes(a.delete)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/functions/{name}/versions", a.versions).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/versions/{version}", a.version).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/versions/{version}", a.changes(a.deleteVersion)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/functions/{name}/aliases", a.aliases).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/aliases/{alias}", a.alias).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/aliases/{alias}", a.changes(a.setAlias)).Methods(http.MethodPut)
	r.HandleFunc("/v1/functions/{name}/aliases/{alias}", a.changes(a.deleteAlias)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/functions/{name}/code", a.code).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/code", a.changes(a.editCode)).Methods(http.MethodPut)
	r.HandleFunc("/v1/functions/{name}/logs", a.logs).Methods(http.MethodGet)
	a.scaleRoutes(r)
}

func (a *API) putCode(w http.ResponseWriter, r *http.Request) {
	httpjson.Extend(w, longRequest)
	body, ok := httpjson.ReadBody(w, r, wire.MaxCodeBytes)
	if !ok {
		return
	}
	ref, err := a.reg.PutCode(r.Context(), body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "code stored", "sha256", ref.SHA256, "size", ref.Size)
	httpjson.Write(w, http.StatusCreated, ref)
}

func (a *API) deploy(w http.ResponseWriter, r *http.Request) {
	httpjson.Extend(w, longRequest) // a build may take minutes
	name := mux.Vars(r)["name"]
	body, ok := httpjson.ReadBody(w, r, wire.MaxDeployBytes)
	if !ok {
		return
	}
	var req wire.DeployRequest
	if !decodeBody(w, body, &req) {
		return
	}
	if err := events.ValidateName(name); err != nil {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "%v", err)
		return
	}
	// The settings are refused before any code is stored or fetched.
	if err := registry.CheckConfig(req.Config()); err != nil {
		a.fail(w, r, fmt.Errorf("deploy %s: %w", name, err))
		return
	}
	if err := access.MaySend(r.Context(), req.Config()); err != nil {
		httpjson.Error(w, http.StatusForbidden, access.CodeForbidden, "deploy %s: %v", name, err)
		return
	}
	if err := a.reg.CheckDestinations(r.Context(), name, req.Config()); err != nil {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "deploy %s: %v", name, err)
		return
	}
	var (
		ref    events.CodeRef
		origin string
	)
	switch {
	case (req.Code == nil) == (req.Inline == nil) || (req.Code != nil && (req.Code.SHA256 == "") == (req.Code.URL == "")):
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, `give exactly one of "code": {"sha256": ...} (upload with POST /v1/code), "code": {"url": "s3://bucket/key.zip"} and "inline": {"file", "content"}`)
		return
	case req.Code != nil && req.Code.URL != "":
		var err error
		if ref, err = a.reg.FetchCode(r.Context(), req.Code.URL); err != nil {
			a.fail(w, r, err)
			return
		}
		origin = req.Code.URL
	case req.Code != nil:
		ref.SHA256 = req.Code.SHA256
	default:
		z, err := archive.FromFile(req.Inline.File, []byte(req.Inline.Content))
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "inline code: %v", err)
			return
		}
		if ref, err = a.reg.PutCode(r.Context(), z); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	v, err := a.reg.DeployFrom(r.Context(), name, req.Config(), ref, origin)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "function deployed", "function", name, "version", v.Version, "runtime", v.Config.Runtime, "sha256", v.Code.SHA256, "origin", origin)
	httpjson.Write(w, http.StatusCreated, v)
}

// decodeStrict reads a JSON body of at most limit bytes into v, refusing unknown fields and
// trailing values; it answers 400 or 413 itself and reports whether v was filled.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, ok := httpjson.ReadBody(w, r, limit)
	return ok && decodeBody(w, body, v)
}

func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "request body: %v", err)
		return false
	}
	if dec.More() {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "request body: more than one JSON value")
		return false
	}
	return true
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	heads, err := a.reg.Heads(r.Context(), func(fn string) bool { return access.Allowed(r.Context(), keys.Read, fn) })
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]wire.FunctionSummary, 0, len(heads))
	for _, h := range heads {
		cfg := h.Newest.Config
		out = append(out, wire.FunctionSummary{
			Name: h.Name, Latest: h.Latest, Runtime: cfg.Runtime, Handler: cfg.Handler,
			MemoryMB: cfg.MemoryMB, Timeout: cfg.Timeout, Updated: h.Updated,
		})
	}
	httpjson.Write(w, http.StatusOK, wire.FunctionList{Functions: out})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	f, err := a.reg.Function(r.Context(), name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.reg.Version(r.Context(), name, f.Latest)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, wire.FunctionDetail{Function: f, Version: v, Scale: a.scaleOf(r.Context(), name)})
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) {
	vs, err := a.reg.Versions(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if vs == nil {
		vs = []events.Version{}
	}
	httpjson.Write(w, http.StatusOK, wire.VersionList{Versions: vs})
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if err := a.reg.Delete(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "function deleted", "function", name)
	w.WriteHeader(http.StatusNoContent)
}

// fail answers err with its status and code; unexpected errors are logged and answered 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, archive.ErrBadArchive):
		httpjson.Error(w, http.StatusBadRequest, CodeBadArchive, "%v", err)
	case errors.Is(err, registry.ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "%v", err)
	case errors.Is(err, registry.ErrVersionNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeVersionNotFound, "%v", err)
	case errors.Is(err, registry.ErrAliasNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeAliasNotFound, "%v", err)
	case errors.Is(err, registry.ErrFileNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeFileNotFound, "%v", err)
	case errors.Is(err, registry.ErrCodeNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeCodeNotFound, "%v", err)
	case errors.Is(err, registry.ErrTriggerNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeTriggerNotFound, "%v", err)
	case errors.Is(err, events.ErrInvalidTrigger):
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "%v", err)
	case errors.Is(err, registry.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeFunctionNotFound, "%v", err)
	case errors.Is(err, registry.ErrInUse):
		httpjson.Error(w, http.StatusConflict, CodeVersionInUse, "%v", err)
	case errors.Is(err, registry.ErrNoObjectStorage):
		httpjson.Error(w, http.StatusBadRequest, CodeNoObjectStorage, "%v", err)
	case errors.Is(err, codeurl.ErrBadURL), errors.Is(err, codeurl.ErrTooLarge):
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "%v", err)
	case errors.Is(err, codeurl.ErrNoObject):
		httpjson.Error(w, http.StatusNotFound, CodeCodeURLNotFound, "%v", err)
	case errors.Is(err, codeurl.ErrDenied):
		httpjson.Error(w, http.StatusBadGateway, CodeCodeURLDenied, "%v", err)
	case errors.Is(err, codeurl.ErrUnreachable):
		httpjson.Error(w, http.StatusBadGateway, CodeCodeURLUnreached, "%v", err)
	case errors.Is(err, registry.ErrConflict):
		httpjson.Error(w, http.StatusConflict, httpjson.CodeConflict, "%v", err)
	case events.IsStoreFull(err):
		a.log.WarnContext(r.Context(), "api request refused: the store is full", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		httpjson.Error(w, http.StatusInsufficientStorage, httpjson.CodeStoreFull, "the node's store has no room for this (%v): nothing was changed; make room (delete old versions, purge dead letters) or give the node more (sluice up --store-max, or more free space under --data)", err)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads an answer.
	default:
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, httpjson.CodeInternal, "%s", fmt.Sprintf("internal error: %v", err))
	}
}
