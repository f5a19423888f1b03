package api

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
)

// CodeKeyNotFound: no access key of that id.
const CodeKeyNotFound = "key_not_found"

// KeyRoutes adds the routes that issue, list and revoke access keys (the admin's alone: they are
// in no Access table).
func (a *API) KeyRoutes(r *mux.Router, store *keys.Store) {
	r.HandleFunc("/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		var req wire.KeyRequest
		if !decodeStrict(w, r, 1<<10, &req) {
			return
		}
		k, err := store.Create(r.Context(), keys.Scope(req.Scope), req.Functions)
		if err != nil {
			a.failKey(w, r, err)
			return
		}
		a.log.InfoContext(r.Context(), "access key issued", "key", k.ID, "scope", k.Scope, "functions", k.Functions)
		httpjson.Write(w, http.StatusCreated, wire.IssuedKey{KeyInfo: keyInfo(k.Key), SecretAccessKey: k.Secret, Token: k.Token()})
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		ks, err := store.List(r.Context())
		if err != nil {
			a.failKey(w, r, err)
			return
		}
		out := wire.KeyList{Keys: []wire.KeyInfo{}}
		for _, k := range ks {
			out.Keys = append(out.Keys, keyInfo(k))
		}
		httpjson.Write(w, http.StatusOK, out)
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		if err := store.Revoke(r.Context(), id); err != nil {
			a.failKey(w, r, err)
			return
		}
		a.log.InfoContext(r.Context(), "access key revoked", "key", id)
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodDelete)
}

func keyInfo(k keys.Key) wire.KeyInfo {
	return wire.KeyInfo{AccessKeyID: k.ID, Scope: string(k.Scope), Functions: k.Functions, Created: k.Created}
}

func (a *API) failKey(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, keys.ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "%v", err)
	case errors.Is(err, keys.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, CodeKeyNotFound, "%v", err)
	default:
		a.fail(w, r, err)
	}
}
