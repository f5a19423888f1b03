package api

import (
	"net/http"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/billing"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/meters"
)

// billing answers GET /v1/billing?since=DUR: every function's requests and GB-seconds over the
// period, from the meter records stored in it, priced with prices.
func (a *API) billing(prices billing.Prices) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		until := time.Now().UTC()
		since, err := parsePeriod(r.URL.Query().Get("since"), DefaultBillingSince, until)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
			return
		}
		l := billing.NewLedger()
		if err := meters.Read(r.Context(), a.js, "", since, func(m events.Meter) error { l.Add(m); return nil }); err != nil {
			a.fail(w, r, err)
			return
		}
		httpjson.Write(w, http.StatusOK, billing.Make(prices, l, since, until))
	}
}
