package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/billing"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/meters"
)

// Periods of the observability endpoints when the query names none.
const (
	DefaultMetricsSince = 15 * time.Minute
	DefaultBillingSince = 30 * 24 * time.Hour
)

// ObserveRoutes adds the metrics, billing and dead-letter endpoints to r; bills are priced
// with prices.
func (a *API) ObserveRoutes(r *mux.Router, prices billing.Prices) {
	r.HandleFunc("/v1/functions/{name}/metrics", a.metrics).Methods(http.MethodGet)
	r.HandleFunc("/v1/billing", a.billing(prices)).Methods(http.MethodGet)
	a.dlqRoutes(r)
}

// parsePeriod reads the "since" query value: a duration ("15m", "2h", "7d"), or an RFC 3339
// time; def when absent. It returns the start of the period.
func parsePeriod(s string, def time.Duration, now time.Time) (time.Time, error) {
	if s == "" {
		return now.Add(-def), nil
	}
	if d, err := wire.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil && t.Before(now) {
		return t, nil
	}
	return time.Time{}, fmt.Errorf(`since %q: use a duration like "15m", "2h" or "7d", or an RFC 3339 time in the past`, s)
}

func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := mux.Vars(r)["name"]
	if _, err := a.reg.Function(ctx, name); err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	until := time.Now().UTC()
	since, err := parsePeriod(q.Get("since"), DefaultMetricsSince, until)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
		return
	}
	since = since.UTC()
	step := meters.DefaultStep(until.Sub(since))
	if s := q.Get("step"); s != "" {
		if step, err = wire.ParseDuration(s); err != nil {
			httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, `step %q: use a duration like "10s" or "1m"`, s)
			return
		}
	}
	if err := meters.CheckStep(until.Sub(since), step); err != nil {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
		return
	}
	agg := meters.NewAggregator(since, until, step)
	if err := meters.Read(ctx, a.js, name, since, func(m events.Meter) error { agg.Add(m); return nil }); err != nil {
		a.fail(w, r, err)
		return
	}
	sum, series := agg.Result()
	v := wire.MetricsView{Function: name, Since: since, Until: until, StepSeconds: step.Seconds(), Summary: sum, Series: series}
	if kv, err := a.js.KeyValue(ctx, events.BucketScale); err == nil {
		d, err := events.ReadScaleDecision(ctx, kv, name)
		switch {
		case err == nil:
			v.Scale = wire.ScaleNow{Lag: d.Lag, Desired: d.Desired, Running: d.Running}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			a.log.WarnContext(ctx, "metrics: scale decision", "function", name, "err", err)
		}
		meters.ApplyScale(v.Series, step, a.scaleHistory(ctx, kv, name))
	}
	httpjson.Write(w, http.StatusOK, v)
}

// scaleHistory reads the scaler's recorded decisions for a function (the last
// events.ScaleHistory of them); none when there are none or they cannot be read.
func (a *API) scaleHistory(ctx context.Context, kv jetstream.KeyValue, name string) []meters.ScalePoint {
	ds, err := events.ScaleDecisionHistory(ctx, kv, name)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			a.log.WarnContext(ctx, "metrics: scale history", "function", name, "err", err)
		}
		return nil
	}
	var out []meters.ScalePoint
	for _, d := range ds {
		out = append(out, meters.ScalePoint{At: d.At, Lag: d.Lag, Running: d.Running})
	}
	return out
}
