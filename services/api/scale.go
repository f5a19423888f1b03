package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
)

// scaleRoutes adds GET /v1/workers to r; the scale of a function comes with GET /v1/functions/{name}.
func (a *API) scaleRoutes(r *mux.Router) {
	r.HandleFunc("/v1/workers", a.workersList).Methods(http.MethodGet)
}

// scaleOf reads a function's scale state. Parts that cannot be read are left at their zero value
// and logged: the function's detail is still worth answering.
func (a *API) scaleOf(ctx context.Context, name string) *wire.ScaleView {
	v := &wire.ScaleView{Running: map[string]int{}, Busy: map[string]int{}}
	if lag, err := events.ConsumerLag(ctx, a.js, name); err == nil {
		v.Lag = lag
	} else {
		a.log.Debug("scale view: lag", "function", name, "err", err)
	}
	if kv, err := a.js.KeyValue(ctx, events.BucketScale); err == nil {
		d, err := events.ReadScaleDecision(ctx, kv, name)
		switch {
		case err == nil:
			v.Desired, v.Reason, v.DecidedAt = d.Desired, d.Reason, d.At
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			a.log.Warn("scale view: decision", "function", name, "err", err)
		}
	}
	if kv, err := a.js.KeyValue(ctx, events.BucketWorkers); err == nil {
		running, busy, _, err := events.RunningInstances(ctx, kv)
		if err != nil {
			a.log.Warn("scale view: workers", "err", err)
		}
		if running[name] != nil {
			v.Running = running[name]
		}
		if busy[name] != nil {
			v.Busy = busy[name]
		}
	}
	return v
}

func (a *API) workersList(w http.ResponseWriter, r *http.Request) {
	kv, err := a.js.KeyValue(r.Context(), events.BucketWorkers)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	beats, err := events.WorkerBeats(r.Context(), kv)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if beats == nil {
		beats = []events.WorkerBeat{}
	}
	slices.SortFunc(beats, func(x, y events.WorkerBeat) int { return strings.Compare(x.ID, y.ID) })
	httpjson.Write(w, http.StatusOK, wire.WorkerList{Workers: beats})
}
