package lambdaapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"sluice.dev/events"
	"sluice.dev/services/gateway"
)

// Invocation types of X-Amz-Invocation-Type.
const (
	invokeSync  = "RequestResponse"
	invokeAsync = "Event"
	invokeDry   = "DryRun"
)

// invoke is Invoke: the function runs with the body as its event; a synchronous call answers
// 200 with what it returned, or with its error and X-Amz-Function-Error; Event answers 202 once
// the event is stored; DryRun checks the call and answers 204.
func (a *API) invoke(w http.ResponseWriter, r *http.Request) {
	kind := r.Header.Get("X-Amz-Invocation-Type")
	if kind == "" {
		kind = invokeSync
	}
	if kind != invokeSync && kind != invokeAsync && kind != invokeDry {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "X-Amz-Invocation-Type %q: use RequestResponse, Event or DryRun", kind)
		return
	}
	_, v, _, ok := a.qualified(w, r)
	if !ok {
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		return
	}
	if len(body) > events.MaxPayload {
		fail(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "request payload is %d bytes, over the %d-byte limit", len(body), events.MaxPayload)
		return
	}
	if len(body) > 0 && !json.Valid(body) {
		fail(w, http.StatusBadRequest, "InvalidRequestContentException", "could not parse the request body into JSON")
		return
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", "X-Amz-Log-Type %q: use None or Tail", logType)
		return
	}
	call := gateway.Call{Version: v, Data: body, ContentType: "application/json", LogTail: logType == "Tail" && kind == invokeSync}
	switch kind {
	case invokeDry:
		w.WriteHeader(http.StatusNoContent)
	case invokeAsync:
		id, err := a.inv.Async(r.Context(), call)
		if err != nil {
			a.invokeFailed(w, err)
			return
		}
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(http.StatusAccepted)
	default:
		res, err := a.inv.Sync(r.Context(), call)
		if err != nil {
			a.invokeFailed(w, err)
			return
		}
		ran := res.Version
		if ran == 0 {
			ran = v.Version
		}
		h := w.Header()
		h.Set("X-Amzn-RequestId", res.ID)
		h.Set("X-Amz-Executed-Version", strconv.Itoa(ran))
		h.Set("Content-Type", "application/json")
		if call.LogTail && res.LogTail != "" {
			h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(res.LogTail)))
		}
		switch res.Outcome {
		case events.OutcomeOK:
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(res.Payload)
		case events.OutcomeThrottled:
			h.Del("X-Amz-Executed-Version")
			fail(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded: function %s has no free instance", v.Function)
		default:
			h.Set("X-Amz-Function-Error", "Unhandled")
			w.WriteHeader(http.StatusOK)
			_ = json.NewEncoder(w).Encode(functionError(res, v))
		}
	}
}

// functionError is the body of a failed synchronous call, as Lambda writes it.
func functionError(res events.Result, v events.Version) events.FunctionError {
	switch {
	case res.Outcome == events.OutcomeTimeout:
		return events.FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", v.Config.Timeout.D().Seconds())}
	case res.Error != nil:
		return *res.Error
	}
	return events.FunctionError{Type: "Runtime." + string(res.Outcome), Message: "the function ended with outcome " + string(res.Outcome)}
}

// invokeFailed answers a call the gateway could not make.
func (a *API) invokeFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, gateway.ErrTooManyWaiting):
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded: %v", err)
	case errors.Is(err, gateway.ErrNoAnswer):
		fail(w, http.StatusBadGateway, "ServiceException", "%v: is a worker running?", err)
	case events.IsStoreFull(err):
		fail(w, http.StatusTooManyRequests, "TooManyRequestsException", "the invocation queue is full: %v", err)
	default:
		a.log.Error("lambda api: invoke", "err", err)
		fail(w, http.StatusInternalServerError, "ServiceException", "%v", err)
	}
}
