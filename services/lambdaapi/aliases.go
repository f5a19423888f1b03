package lambdaapi

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/services/registry"
)

// AliasConfiguration is Lambda's description of an alias.
type AliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig,omitempty"`
	RevisionID      string         `json:"RevisionId"`
}

// routingConfig sends a share of an alias's invocations to a second version.
type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

// aliasRequest is the body of CreateAlias and UpdateAlias.
type aliasRequest struct {
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig"`
}

type listAliasesResponse struct {
	Aliases    []AliasConfiguration `json:"Aliases"`
	NextMarker *string              `json:"NextMarker"`
}

func (a *API) aliasRoutes(fns *mux.Router) {
	fns.HandleFunc("/{name}/aliases", a.createAlias).Methods(http.MethodPost)
	fns.HandleFunc("/{name}/aliases", a.listAliases).Methods(http.MethodGet)
	fns.HandleFunc("/{name}/aliases/{alias}", a.getAlias).Methods(http.MethodGet)
	fns.HandleFunc("/{name}/aliases/{alias}", a.updateAlias).Methods(http.MethodPut)
	fns.HandleFunc("/{name}/aliases/{alias}", a.deleteAlias).Methods(http.MethodDelete)
}

// aliasConfiguration describes alias name of function fn as Lambda would.
func aliasConfiguration(region, fn, name string, al events.Alias) AliasConfiguration {
	c := AliasConfiguration{
		AliasArn: arn(region, fn, name), Name: name, FunctionVersion: strconv.Itoa(al.Version),
		RevisionID: revision(events.Version{Function: fn + ":" + name, Version: al.Version, Created: al.Updated}),
	}
	if al.Additional != nil {
		c.RoutingConfig = &routingConfig{AdditionalVersionWeights: map[string]float64{strconv.Itoa(al.Additional.Version): al.Additional.Weight}}
	}
	return c
}

// toAlias reads a request's version and routing into sluice's alias.
func toAlias(req aliasRequest) (events.Alias, error) {
	n, err := strconv.Atoi(req.FunctionVersion)
	if err != nil || n < 1 {
		return events.Alias{}, fmt.Errorf("FunctionVersion %q: an alias points at a published version number, not $LATEST", req.FunctionVersion)
	}
	al := events.Alias{Version: n}
	if req.RoutingConfig != nil && len(req.RoutingConfig.AdditionalVersionWeights) > 0 {
		if len(req.RoutingConfig.AdditionalVersionWeights) > 1 {
			return al, fmt.Errorf("RoutingConfig: at most one additional version")
		}
		for v, w := range req.RoutingConfig.AdditionalVersionWeights {
			m, err := strconv.Atoi(v)
			if err != nil || m < 1 {
				return al, fmt.Errorf("RoutingConfig: additional version %q is not a version number", v)
			}
			al.Additional = &events.Weighted{Version: m, Weight: w}
		}
	}
	return al, nil
}

// setAlias creates or changes an alias, answering its configuration with status.
func (a *API) setAlias(w http.ResponseWriter, r *http.Request, fn, name string, req aliasRequest, status int) {
	al, err := toAlias(req)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "%v", err)
		return
	}
	f, err := a.reg.SetAlias(r.Context(), fn, name, al)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.synced(r.Context())
	write(w, status, aliasConfiguration(region(r), fn, name, f.Aliases[name]))
}

func (a *API) createAlias(w http.ResponseWriter, r *http.Request) {
	var req aliasRequest
	if !decode(w, r, &req) {
		return
	}
	f, ok := a.function(w, r)
	if !ok {
		return
	}
	if _, exists := f.Aliases[req.Name]; exists {
		fail(w, http.StatusConflict, "ResourceConflictException", "Alias already exists: %s", arn(region(r), f.Name, req.Name))
		return
	}
	a.setAlias(w, r, f.Name, req.Name, req, http.StatusCreated)
}

func (a *API) updateAlias(w http.ResponseWriter, r *http.Request) {
	var req aliasRequest
	if !decode(w, r, &req) {
		return
	}
	f, al, ok := a.alias(w, r)
	if !ok {
		return
	}
	name := mux.Vars(r)["alias"]
	if req.FunctionVersion == "" {
		req.FunctionVersion = strconv.Itoa(al.Version)
	}
	if req.RoutingConfig == nil && al.Additional != nil { // not given: kept
		req.RoutingConfig = &routingConfig{AdditionalVersionWeights: map[string]float64{strconv.Itoa(al.Additional.Version): al.Additional.Weight}}
	}
	a.setAlias(w, r, f.Name, name, req, http.StatusOK)
}

func (a *API) getAlias(w http.ResponseWriter, r *http.Request) {
	f, al, ok := a.alias(w, r)
	if !ok {
		return
	}
	write(w, http.StatusOK, aliasConfiguration(region(r), f.Name, mux.Vars(r)["alias"], al))
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request) {
	f, ok := a.function(w, r)
	if !ok {
		return
	}
	if err := a.reg.DeleteAlias(r.Context(), f.Name, mux.Vars(r)["alias"]); err != nil {
		a.fail(w, err)
		return
	}
	a.synced(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listAliases(w http.ResponseWriter, r *http.Request) {
	f, ok := a.function(w, r)
	if !ok {
		return
	}
	names := make([]string, 0, len(f.Aliases))
	for n := range f.Aliases {
		names = append(names, n)
	}
	sort.Strings(names)
	out := listAliasesResponse{Aliases: []AliasConfiguration{}}
	for _, n := range names {
		out.Aliases = append(out.Aliases, aliasConfiguration(region(r), f.Name, n, f.Aliases[n]))
	}
	write(w, http.StatusOK, out)
}

// function finds the function a route names.
func (a *API) function(w http.ResponseWriter, r *http.Request) (events.Function, bool) {
	name, _ := functionName(mux.Vars(r)["name"])
	f, err := a.reg.Function(r.Context(), name)
	if err != nil {
		a.fail(w, err)
		return f, false
	}
	return f, true
}

// alias finds the function and the alias a route names.
func (a *API) alias(w http.ResponseWriter, r *http.Request) (events.Function, events.Alias, bool) {
	f, ok := a.function(w, r)
	if !ok {
		return f, events.Alias{}, false
	}
	al, ok := f.Aliases[mux.Vars(r)["alias"]]
	if !ok {
		a.fail(w, fmt.Errorf("%w: function %s has no alias %q", registry.ErrAliasNotFound, f.Name, mux.Vars(r)["alias"]))
		return f, al, false
	}
	return f, al, true
}
