// Package trigger is the contract of every trigger adapter: an adapter turns what happens in one
// source (a schedule, a bucket, a queue) into invocation CloudEvents, published through a
// Publisher that returns only once the bus has stored the event. An adapter runs until its ctx
// ends, retries an unreachable source with backoff instead of returning, and reports its health
// on every change of state.
//
// Adapters are made from specs by Factories that the process starting them wires by kind (a
// plain map in main, no registration side effects).
package trigger

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
)

// Publisher stores an invocation event of a function on the bus. It returns once JetStream has
// acknowledged it; the event id is the message id, so publishing the same event again (a retry,
// a second adapter process, a redelivered source message) never invokes twice within the bus's
// duplicate window. Safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, function string, ev event.Event) error
}

// Reporter receives an adapter's health whenever it changes (and at least on every error).
type Reporter func(events.TriggerStatus)

// Adapter serves one trigger until ctx ends. It returns nil when ctx ended, or an error only for
// a spec that can never work (it has reported StateFailed first).
type Adapter interface {
	Run(ctx context.Context, pub Publisher, report Reporter) error
}

// Factory makes the adapter of a trigger spec, or says why the spec cannot work (wrapping
// events.ErrInvalidTrigger), so that adding a bad trigger fails at once.
type Factory func(spec events.Trigger) (Adapter, error)
