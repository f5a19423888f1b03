package lambdaapi

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"sluice.dev/events"
)

// eventConfigPath is where Lambda keeps a function's asynchronous invocation settings.
const eventConfigPath = "/2019-09-25/functions/{name}/event-invoke-config"

// eventInvokeConfig is Lambda's FunctionEventInvokeConfig: sluice's retries, maxEventAge,
// onSuccess and onFailure.
type eventInvokeConfig struct {
	FunctionArn              string             `json:"FunctionArn,omitempty"`
	LastModified             float64            `json:"LastModified,omitempty"` // epoch seconds
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *destinationConfig `json:"DestinationConfig,omitempty"`
}

type destinationConfig struct {
	OnSuccess *onDestination `json:"OnSuccess,omitempty"`
	OnFailure *onDestination `json:"OnFailure,omitempty"`
}

type onDestination struct {
	Destination string `json:"Destination"`
}

func (a *API) eventConfigRoutes(r *mux.Router) {
	r.HandleFunc(eventConfigPath, a.putEventConfig(true)).Methods(http.MethodPut)
	r.HandleFunc(eventConfigPath, a.putEventConfig(false)).Methods(http.MethodPost)
	r.HandleFunc(eventConfigPath, a.getEventConfig).Methods(http.MethodGet)
	r.HandleFunc(eventConfigPath, a.deleteEventConfig).Methods(http.MethodDelete)
}

// putEventConfig is PutFunctionEventInvokeConfig (replace: what is left out takes its default)
// and, with replace false, UpdateFunctionEventInvokeConfig (what is left out is kept). Like every
// change of settings, it deploys a new version.
func (a *API) putEventConfig(replace bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req eventInvokeConfig
		v, ok := a.newestFor(w, r, &req)
		if !ok {
			return
		}
		cfg := v.Config
		if replace {
			cfg.Retries, cfg.MaxEventAge, cfg.OnSuccess, cfg.OnFailure = events.DefaultRetries, 0, "", ""
		}
		if req.MaximumRetryAttempts != nil {
			cfg.Retries = *req.MaximumRetryAttempts
		}
		if req.MaximumEventAgeInSeconds != nil {
			cfg.MaxEventAge = events.Duration(time.Duration(*req.MaximumEventAgeInSeconds) * time.Second)
		}
		if d := req.DestinationConfig; d != nil {
			if d.OnSuccess != nil {
				cfg.OnSuccess = d.OnSuccess.Destination
			}
			if d.OnFailure != nil {
				cfg.OnFailure = d.OnFailure.Destination
			}
		}
		if a.redeploy(w, r, v, cfg) {
			v.Config, v.Created = cfg, time.Now()
			write(w, http.StatusOK, eventConfigOf(region(r), v))
		}
	}
}

func (a *API) getEventConfig(w http.ResponseWriter, r *http.Request) {
	_, v, ok := a.newest(w, r)
	if !ok {
		return
	}
	write(w, http.StatusOK, eventConfigOf(region(r), v))
}

// deleteEventConfig is DeleteFunctionEventInvokeConfig: the settings go back to their defaults.
func (a *API) deleteEventConfig(w http.ResponseWriter, r *http.Request) {
	_, v, ok := a.newest(w, r)
	if !ok {
		return
	}
	cfg := v.Config
	cfg.Retries, cfg.MaxEventAge, cfg.OnSuccess, cfg.OnFailure = events.DefaultRetries, 0, "", ""
	if a.redeploy(w, r, v, cfg) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// eventConfigOf is version v's asynchronous settings as Lambda answers them.
func eventConfigOf(region string, v events.Version) eventInvokeConfig {
	retries, age := v.Config.Retries, int(v.Config.MaxEventAge.D()/time.Second)
	if age == 0 {
		age = int(events.DefaultMaxEventAge / time.Second)
	}
	c := eventInvokeConfig{
		FunctionArn: arn(region, v.Function, latest), LastModified: float64(v.Created.UnixMilli()) / 1000,
		MaximumRetryAttempts: &retries, MaximumEventAgeInSeconds: &age,
	}
	if v.Config.OnSuccess != "" || v.Config.OnFailure != "" {
		c.DestinationConfig = &destinationConfig{}
		if v.Config.OnSuccess != "" {
			c.DestinationConfig.OnSuccess = &onDestination{Destination: v.Config.OnSuccess}
		}
		if v.Config.OnFailure != "" {
			c.DestinationConfig.OnFailure = &onDestination{Destination: v.Config.OnFailure}
		}
	}
	return c
}
