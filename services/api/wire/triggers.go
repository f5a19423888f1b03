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
