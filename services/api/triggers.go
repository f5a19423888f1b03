package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/registry"
)

// maxTriggerBytes bounds a POST /v1/triggers body.
const maxTriggerBytes = 1 << 20

// TriggerRoutes adds the trigger endpoints to r: POST /v1/triggers (a spec, checked by the
// Factory of its kind so that a spec that cannot work is a 400 at once; 201 when new, 200 when it
// replaced the spec of the same id, whose secrets it keeps when sent back redacted), GET
// /v1/triggers[?function=NAME] and GET /v1/triggers/{id} (specs with their status) and DELETE
// /v1/triggers/{id}. factories are the ones the adapter processes run. No answer, error or log
// line shows a trigger's secrets (events.Trigger.Redacted).
func (a *API) TriggerRoutes(r *mux.Router, factories map[string]trigger.Factory) {
	r.HandleFunc("/v1/triggers", func(w http.ResponseWriter, r *http.Request) { a.addTrigger(w, r, factories) }).Methods(http.MethodPost)
	r.HandleFunc("/v1/triggers", a.listTriggers).Methods(http.MethodGet)
	r.HandleFunc("/v1/triggers/{id}", a.getTrigger).Methods(http.MethodGet)
	r.HandleFunc("/v1/triggers/{id}", a.deleteTrigger).Methods(http.MethodDelete)
}

func (a *API) addTrigger(w http.ResponseWriter, r *http.Request, factories map[string]trigger.Factory) {
	var t events.Trigger
	if !decodeStrict(w, r, maxTriggerBytes, &t) {
		return
	}
	var old events.Trigger
	if t.ID == "" {
		t.ID = newTriggerID(t.Function, t.Kind)
	} else if prev, err := a.reg.Trigger(r.Context(), t.ID); err == nil {
		old = prev
	} else if !errors.Is(err, registry.ErrTriggerNotFound) {
		a.fail(w, r, err)
		return
	}
	t, err := t.WithSecretsOf(old)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := t.Validate(); err != nil {
		a.fail(w, r, t.RedactError(err))
		return
	}
	f, ok := factories[t.Kind]
	if !ok {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "trigger kind %q is not available on this node", t.Kind)
		return
	}
	if _, err := f(t); err != nil {
		a.fail(w, r, t.RedactError(err))
		return
	}
	created, err := a.reg.PutTrigger(r.Context(), t)
	if err != nil {
		a.fail(w, r, t.RedactError(err))
		return
	}
	stored, err := a.reg.Trigger(r.Context(), t.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	a.log.InfoContext(r.Context(), "trigger stored", "trigger", t.ID, "function", t.Function, "kind", t.Kind, "created", created)
	httpjson.Write(w, status, stored.Redacted())
}

func (a *API) listTriggers(w http.ResponseWriter, r *http.Request) {
	views, err := a.reg.Triggers(r.Context(), r.URL.Query().Get("function"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, wire.TriggerList{Triggers: views})
}

func (a *API) getTrigger(w http.ResponseWriter, r *http.Request) {
	v, err := a.reg.ViewTrigger(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (a *API) deleteTrigger(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if err := a.reg.DeleteTrigger(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "trigger deleted", "trigger", id)
	w.WriteHeader(http.StatusNoContent)
}

// newTriggerID names a trigger that came without an id: function-kind-random.
func newTriggerID(function, kind string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", function, kind, hex.EncodeToString(b))
}
