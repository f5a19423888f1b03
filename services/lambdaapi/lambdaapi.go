// Package lambdaapi serves AWS Lambda's REST API (version 2015-03-31) over sluice's registry and
// gateway, so the AWS CLI, boto3 and the AWS SDKs manage and invoke sluice's functions as they
// do Lambda's: `aws --endpoint-url $SLUICE_URL lambda invoke ...`.
//
// Lambda's model maps onto sluice's: $LATEST is a function's newest version; every change of
// code or configuration deploys a new immutable version, so PublishVersion names the newest one
// rather than copying it. Errors carry Lambda's error types in x-amzn-ErrorType and a JSON body
// {"Type": "User", "message": ...}, which the clients turn into their exceptions.
package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/archive"
	"sluice.dev/services/gateway"
	"sluice.dev/services/keys"
	"sluice.dev/services/registry"
	"sluice.dev/services/sigv4"
)

// Prefix is the path most routes of the API are under; Served says which paths are Lambda's.
const Prefix = "/2015-03-31"

// versions are the API versions in Lambda's paths that sluice serves operations of.
var versions = []string{Prefix, "/2017-10-31", "/2019-09-25", "/2019-09-30"}

// Served reports whether path is one of Lambda's API, by its version prefix.
func Served(path string) bool {
	for _, v := range versions {
		if strings.HasPrefix(path, v+"/") {
			return true
		}
	}
	return false
}

// maxRequest bounds a request body: a base64 ZIP of the largest package sluice takes.
const maxRequest = 70 << 20

// Invoker runs invocations: the gateway.
type Invoker interface {
	Sync(ctx context.Context, c gateway.Call) (events.Result, error)
	Async(ctx context.Context, c gateway.Call) (string, error)
}

// View is the live view of functions that serves invocations in this process: a change is
// answered once it applied it, so a call right after an update runs the new code.
type View interface {
	Sync(ctx context.Context) error
}

// API serves Lambda's routes.
type API struct {
	reg  *registry.Registry
	inv  Invoker
	view View
	log  *slog.Logger
}

// New makes the API. view may be nil.
func New(reg *registry.Registry, inv Invoker, view View, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{reg: reg, inv: inv, view: view, log: logger}
}

// Routes adds the API's routes to r, which checks the caller (access.Guard.Protect with Access).
func (a *API) Routes(r *mux.Router) {
	fns := r.PathPrefix(Prefix + "/functions").Subrouter()
	fns.HandleFunc("", a.create).Methods(http.MethodPost)
	fns.HandleFunc("/", a.list).Methods(http.MethodGet)
	fns.HandleFunc("", a.list).Methods(http.MethodGet)
	fns.HandleFunc("/{name}", a.get).Methods(http.MethodGet)
	fns.HandleFunc("/{name}", a.delete).Methods(http.MethodDelete)
	fns.HandleFunc("/{name}/configuration", a.getConfiguration).Methods(http.MethodGet)
	fns.HandleFunc("/{name}/configuration", a.updateConfiguration).Methods(http.MethodPut)
	fns.HandleFunc("/{name}/code", a.updateCode).Methods(http.MethodPut)
	fns.HandleFunc("/{name}/invocations", a.invoke).Methods(http.MethodPost)
	fns.HandleFunc("/{name}/versions", a.publish).Methods(http.MethodPost)
	fns.HandleFunc("/{name}/versions", a.versions).Methods(http.MethodGet)
	a.aliasRoutes(fns)
	a.concurrencyRoutes(r)
	a.eventConfigRoutes(r)
	r.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return Served(r.URL.Path) }).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "UnknownOperationException", "sluice does not serve %s %s of Lambda's API", r.Method, r.URL.Path)
	})
}

// region is the region a request's signature names, for the ARNs of the answer.
func region(r *http.Request) string {
	if reg := sigv4.Region(r); reg != "" {
		return reg
	}
	return defaultRegion
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decode(w, r, &req) {
		return
	}
	if req.PackageType == "Image" || req.Code.ImageURI != "" {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "sluice runs .zip packages, not container images")
		return
	}
	if err := events.ValidateName(req.FunctionName); err != nil {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "FunctionName: %v", err)
		return
	}
	if !access.Allowed(r.Context(), keys.Deploy, req.FunctionName) {
		Deny(w, r, access.Refusal(access.CallerOf(r.Context()), keys.Deploy, req.FunctionName))
		return
	}
	if _, err := a.reg.Function(r.Context(), req.FunctionName); err == nil {
		fail(w, http.StatusConflict, "ResourceConflictException", "Function already exist: %s", req.FunctionName)
		return
	}
	rt, err := sluiceRuntime(req.Runtime)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
		return
	}
	cfg := events.Config{Runtime: rt, LambdaRuntime: req.Runtime, Handler: req.Handler, MemoryMB: req.MemorySize, Description: req.Description,
		Retries: events.DefaultRetries}
	if rt == req.Runtime {
		cfg.LambdaRuntime = "" // sluice's own name
	}
	if req.Timeout > 0 {
		cfg.Timeout = events.Duration(time.Duration(req.Timeout) * time.Second)
	}
	if req.Environment != nil {
		cfg.Env = req.Environment.Variables
	}
	a.deploy(w, r, req.FunctionName, registry.WithDefaults(cfg), req.Code, nil, http.StatusCreated)
}

// deploy stores code (or keeps the version base's) and deploys cfg as the function's newest
// version, answering its configuration with status.
func (a *API) deploy(w http.ResponseWriter, r *http.Request, name string, cfg events.Config, code FunctionCode, base *events.Version, status int) {
	if err := registry.CheckConfig(cfg); err != nil {
		a.fail(w, err)
		return
	}
	var ref events.CodeRef
	origin := ""
	switch {
	case len(code.ZipFile) > 0:
		var err error
		if ref, err = a.reg.PutCode(r.Context(), code.ZipFile); err != nil {
			a.fail(w, err)
			return
		}
	case code.S3Bucket != "" && code.S3Key != "":
		origin = "s3://" + code.S3Bucket + "/" + code.S3Key
		var err error
		if ref, err = a.reg.FetchCode(r.Context(), origin); err != nil {
			a.fail(w, err)
			return
		}
	case base != nil:
		ref, origin = base.Code, base.Origin
	default:
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "Code needs ZipFile, or S3Bucket and S3Key")
		return
	}
	v, err := a.reg.DeployFrom(r.Context(), name, cfg, ref, origin)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.synced(r.Context())
	a.log.InfoContext(r.Context(), "function deployed through the Lambda API", "function", name, "version", v.Version, "runtime", cfg.Runtime)
	write(w, status, configuration(region(r), v, true, v.Created))
}

// synced waits, briefly, until the view serving invocations has applied a change.
func (a *API) synced(ctx context.Context) {
	if a.view == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.view.Sync(ctx); err != nil {
		a.log.Warn("lambda api: change answered before the view applied it", "err", err)
	}
}

// newest finds the function a route names (a name or an ARN) and its newest version.
func (a *API) newest(w http.ResponseWriter, r *http.Request) (events.Function, events.Version, bool) {
	f, ok := a.function(w, r)
	if !ok {
		return f, events.Version{}, false
	}
	v, err := a.reg.Version(r.Context(), f.Name, f.Latest)
	if err != nil {
		a.fail(w, err)
		return f, v, false
	}
	return f, v, true
}

// qualified finds the version a route and its Qualifier name, and whether that is $LATEST.
func (a *API) qualified(w http.ResponseWriter, r *http.Request) (events.Function, events.Version, bool, bool) {
	name, q := functionName(mux.Vars(r)["name"])
	if qq := r.URL.Query().Get("Qualifier"); qq != "" {
		q = qq
	}
	f, err := a.reg.Function(r.Context(), name)
	if err != nil {
		a.fail(w, err)
		return f, events.Version{}, false, false
	}
	v, err := a.reg.Resolve(r.Context(), name, q)
	if err != nil {
		a.fail(w, err)
		return f, v, false, false
	}
	return f, v, q == "" || q == latest, true
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	f, v, isLatest, ok := a.qualified(w, r)
	if !ok {
		return
	}
	write(w, http.StatusOK, getFunctionResponse{
		Configuration: configuration(region(r), v, isLatest, f.Updated),
		Code:          codeLocation{RepositoryType: "S3", Location: "/v1/functions/" + v.Function + "/code?version=" + strconv.Itoa(v.Version)},
		Concurrency:   reserved(v),
	})
}

func (a *API) getConfiguration(w http.ResponseWriter, r *http.Request) {
	f, v, isLatest, ok := a.qualified(w, r)
	if !ok {
		return
	}
	write(w, http.StatusOK, configuration(region(r), v, isLatest, f.Updated))
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	heads, err := a.reg.Heads(r.Context(), func(fn string) bool { return access.Allowed(r.Context(), keys.Read, fn) })
	if err != nil {
		a.fail(w, err)
		return
	}
	out := listFunctionsResponse{Functions: []FunctionConfiguration{}}
	for _, h := range heads {
		out.Functions = append(out.Functions, configuration(region(r), h.Newest, true, h.Updated))
	}
	write(w, http.StatusOK, out)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	name, q := functionName(mux.Vars(r)["name"])
	if q != "" || r.URL.Query().Get("Qualifier") != "" {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "sluice deletes whole functions: leave out the qualifier")
		return
	}
	if err := a.reg.Delete(r.Context(), name); err != nil {
		a.fail(w, err)
		return
	}
	a.synced(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

// newestFor decodes a request's body into req and finds the newest version of the function
// its route names, answering the error itself.
func (a *API) newestFor(w http.ResponseWriter, r *http.Request, req any) (events.Version, bool) {
	if !decode(w, r, req) {
		return events.Version{}, false
	}
	_, v, ok := a.newest(w, r)
	return v, ok
}

func (a *API) updateCode(w http.ResponseWriter, r *http.Request) {
	var req updateCodeRequest
	v, ok := a.newestFor(w, r, &req)
	if !ok {
		return
	}
	if len(req.ZipFile) == 0 && (req.S3Bucket == "" || req.S3Key == "") {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "Code needs ZipFile, or S3Bucket and S3Key")
		return
	}
	a.deploy(w, r, v.Function, v.Config, req.FunctionCode, nil, http.StatusOK)
}

func (a *API) updateConfiguration(w http.ResponseWriter, r *http.Request) {
	var req updateConfigRequest
	v, ok := a.newestFor(w, r, &req)
	if !ok {
		return
	}
	cfg := v.Config
	if req.Runtime != nil {
		rt, err := sluiceRuntime(*req.Runtime)
		if err != nil {
			fail(w, http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
			return
		}
		cfg.Runtime, cfg.LambdaRuntime = rt, *req.Runtime
		if rt == *req.Runtime {
			cfg.LambdaRuntime = ""
		}
	}
	if req.Handler != nil {
		cfg.Handler = *req.Handler
	}
	if req.Description != nil {
		cfg.Description = *req.Description
	}
	if req.Timeout != nil {
		cfg.Timeout = events.Duration(time.Duration(*req.Timeout) * time.Second)
	}
	if req.MemorySize != nil {
		cfg.MemoryMB = *req.MemorySize
	}
	if req.Environment != nil {
		cfg.Env = req.Environment.Variables
	}
	a.deploy(w, r, v.Function, cfg, FunctionCode{}, &v, http.StatusOK)
}

// publish is PublishVersion: sluice's newest version is immutable already, so it is the
// published version.
func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	_, v, ok := a.newest(w, r)
	if !ok {
		return
	}
	write(w, http.StatusCreated, configuration(region(r), v, false, v.Created))
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) {
	f, newest, ok := a.newest(w, r)
	if !ok {
		return
	}
	vs, err := a.reg.Versions(r.Context(), f.Name)
	if err != nil {
		a.fail(w, err)
		return
	}
	out := listVersionsResponse{Versions: []FunctionConfiguration{configuration(region(r), newest, true, f.Updated)}}
	for _, v := range vs {
		out.Versions = append(out.Versions, configuration(region(r), v, false, v.Created))
	}
	write(w, http.StatusOK, out)
}

// decode reads a JSON body into v, answering Lambda's error itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := readBody(w, r)
	if err != nil {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequestContentException", "could not parse the request body into JSON: %v", err)
		return false
	}
	return true
}

// fail answers a registry or gateway error as Lambda would.
func (a *API) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, registry.ErrVersionNotFound), errors.Is(err, registry.ErrAliasNotFound), errors.Is(err, registry.ErrNotFound):
		fail(w, http.StatusNotFound, "ResourceNotFoundException", "%v", err)
	case errors.Is(err, registry.ErrInvalid), errors.Is(err, archive.ErrBadArchive):
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
	case errors.Is(err, registry.ErrConflict):
		fail(w, http.StatusConflict, "ResourceConflictException", "%v", err)
	case errors.Is(err, registry.ErrBuild):
		fail(w, http.StatusBadRequest, "CodeVerificationFailedException", "%v", err)
	default:
		a.log.Error("lambda api", "err", err)
		fail(w, http.StatusInternalServerError, "ServiceException", "%v", err)
	}
}

// errorBody is the body of Lambda's errors.
type errorBody struct {
	Type    string `json:"Type"`
	Message string `json:"message"`
}

// fail answers a Lambda error: its type in x-amzn-ErrorType and in the body's message.
func fail(w http.ResponseWriter, status int, errorType, format string, args ...any) {
	w.Header().Set("X-Amzn-ErrorType", errorType)
	kind := "User"
	if status >= 500 {
		kind = "Service"
	}
	write(w, status, errorBody{Type: kind, Message: fmt.Sprintf(format, args...)})
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
