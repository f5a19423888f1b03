package api

import (
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
)

func aliasInfo(name string, a events.Alias) wire.AliasInfo {
	return wire.AliasInfo{Name: name, Version: a.Version, Additional: a.Additional, Updated: a.Updated}
}

func (a *API) aliases(w http.ResponseWriter, r *http.Request) {
	f, err := a.reg.Function(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]wire.AliasInfo, 0, len(f.Aliases))
	for _, name := range slices.Sorted(maps.Keys(f.Aliases)) {
		out = append(out, aliasInfo(name, f.Aliases[name]))
	}
	httpjson.Write(w, http.StatusOK, wire.AliasList{Aliases: out})
}

func (a *API) alias(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	f, err := a.reg.Function(r.Context(), vars["name"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	al, ok := f.Aliases[vars["alias"]]
	if !ok {
		httpjson.Error(w, http.StatusNotFound, CodeAliasNotFound, "function %s has no alias %q (list them with GET /v1/functions/%s/aliases)", f.Name, vars["alias"], f.Name)
		return
	}
	httpjson.Write(w, http.StatusOK, aliasInfo(vars["alias"], al))
}

func (a *API) setAlias(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	var req wire.AliasRequest
	if !decodeStrict(w, r, 64<<10, &req) {
		return
	}
	if req.Version < 1 {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, `give the alias's version: {"version": 3}`)
		return
	}
	f, err := a.reg.SetAlias(r.Context(), vars["name"], vars["alias"], events.Alias{Version: req.Version, Additional: req.Additional})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "alias set", "function", f.Name, "alias", vars["alias"], "version", req.Version)
	httpjson.Write(w, http.StatusOK, aliasInfo(vars["alias"], f.Aliases[vars["alias"]]))
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	if err := a.reg.DeleteAlias(r.Context(), vars["name"], vars["alias"]); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "alias deleted", "function", vars["name"], "alias", vars["alias"])
	w.WriteHeader(http.StatusNoContent)
}

// versionNumber reads the {version} path variable; it answers 400 itself when it is not one.
func versionNumber(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := mux.Vars(r)["version"]
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "version %q: use a version number (1, 2, ...)", s)
		return 0, false
	}
	return n, true
}

func (a *API) version(w http.ResponseWriter, r *http.Request) {
	n, ok := versionNumber(w, r)
	if !ok {
		return
	}
	v, err := a.reg.Version(r.Context(), mux.Vars(r)["name"], n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (a *API) deleteVersion(w http.ResponseWriter, r *http.Request) {
	n, ok := versionNumber(w, r)
	if !ok {
		return
	}
	name := mux.Vars(r)["name"]
	if err := a.reg.DeleteVersion(r.Context(), name, n); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "version deleted", "function", name, "version", n)
	w.WriteHeader(http.StatusNoContent)
}
