package lambdaapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/registry"
)

// Paths of the concurrency operations, which Lambda versions apart from the rest.
const (
	putConcurrency = "/2017-10-31/functions/{name}/concurrency"
	getConcurrency = "/2019-09-30/functions/{name}/concurrency"
)

// concurrencyBody is the body and answer of the concurrency operations.
type concurrencyBody struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

func (a *API) concurrencyRoutes(r *mux.Router) {
	r.HandleFunc(putConcurrency, a.putConcurrency).Methods(http.MethodPut)
	r.HandleFunc(putConcurrency, a.deleteConcurrency).Methods(http.MethodDelete)
	r.HandleFunc(getConcurrency, a.getConcurrency).Methods(http.MethodGet)
}

// putConcurrency is PutFunctionConcurrency: the function's max becomes the reserved
// concurrency, and synchronous calls past it are refused with 429 (events.Config.Reserved). As
// every change of settings, it deploys a new version.
func (a *API) putConcurrency(w http.ResponseWriter, r *http.Request) {
	var req concurrencyBody
	v, ok := a.newestFor(w, r, &req)
	if !ok {
		return
	}
	if req.ReservedConcurrentExecutions == nil {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "ReservedConcurrentExecutions is required")
		return
	}
	n := *req.ReservedConcurrentExecutions
	if n < 1 || n > registry.MaxInstances {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException",
			"ReservedConcurrentExecutions %d: use 1 to %d (sluice does not throttle a function to 0: delete it, or take its triggers away)", n, registry.MaxInstances)
		return
	}
	cfg := v.Config
	cfg.Reserved, cfg.Max, cfg.Min = n, n, min(cfg.Min, n)
	if a.redeploy(w, r, v, cfg) {
		write(w, http.StatusOK, concurrencyBody{ReservedConcurrentExecutions: &n})
	}
}

// deleteConcurrency is DeleteFunctionConcurrency: back to the default max, calls wait again.
func (a *API) deleteConcurrency(w http.ResponseWriter, r *http.Request) {
	_, v, ok := a.newest(w, r)
	if !ok {
		return
	}
	if v.Config.Reserved == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	cfg := v.Config
	cfg.Reserved, cfg.Max = 0, max(events.DefaultMax, cfg.Min)
	if a.redeploy(w, r, v, cfg) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *API) getConcurrency(w http.ResponseWriter, r *http.Request) {
	_, v, ok := a.newest(w, r)
	if !ok {
		return
	}
	write(w, http.StatusOK, reserved(v))
}

// reserved is a version's reserved concurrency as Lambda answers it: none, or the number.
func reserved(v events.Version) concurrencyBody {
	if v.Config.Reserved == 0 {
		return concurrencyBody{}
	}
	n := v.Config.Reserved
	return concurrencyBody{ReservedConcurrentExecutions: &n}
}

// redeploy deploys cfg with the code of version v, answering the error itself.
func (a *API) redeploy(w http.ResponseWriter, r *http.Request, v events.Version, cfg events.Config) bool {
	if err := registry.CheckConfig(cfg); err != nil {
		a.fail(w, err)
		return false
	}
	if err := access.MaySend(r.Context(), cfg); err != nil {
		Deny(w, r, err)
		return false
	}
	if err := a.reg.CheckDestinations(r.Context(), v.Function, cfg); err != nil {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
		return false
	}
	if _, err := a.reg.DeployFrom(r.Context(), v.Function, cfg, v.Code, v.Origin); err != nil {
		a.fail(w, err)
		return false
	}
	a.synced(r.Context())
	return true
}
