package wire

import "sluice.dev/events"

// TriggerView is a trigger spec as it may be shown (events.Trigger.Redacted: no secrets) with
// the health its adapter last reported (nil before any), its error redacted the same way.
type TriggerView struct {
	Trigger events.Trigger        `json:"trigger"`
	Status  *events.TriggerStatus `json:"status,omitempty"`
}

// TriggerList is the answer of GET /v1/triggers[?function=NAME].
type TriggerList struct {
	Triggers []TriggerView `json:"triggers"`
}

// Ingested is the answer to CloudEvents sent in (POST /v1/events, 202, or a request on the bus
// subject events.IngressSubject): what became of each event, in the order they came.
type Ingested struct {
	Events []IngestedEvent `json:"events"`
}

// IngestedEvent is one event that came in and the invocations it became, one for each
// subscription it passed (none when it passed none).
type IngestedEvent struct {
	ID          string               `json:"id"`
	Source      string               `json:"source"`
	Invocations []IngestedInvocation `json:"invocations"`
	Dropped     string               `json:"dropped,omitempty"` // why it was not routed, when it was not
}

// IngestedInvocation is an invocation an event became: its function, the subscription (trigger
// id) that routed it, and its invocation id (for GET /v1/invocations/{id}).
type IngestedInvocation struct {
	Function string `json:"function"`
	Trigger  string `json:"trigger"`
	ID       string `json:"id"`
}
