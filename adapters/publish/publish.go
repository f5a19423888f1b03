// Package publish is the trigger adapters' way onto the bus: it stores invocation CloudEvents in
// SLUICE_INVOKE on the function's subject, validated, with the event id as the message id, and
// returns once JetStream has acknowledged them, waiting out a stream without a leader for
// events.PublishPatience.
package publish

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Bus publishes invocation events to JetStream. Safe for concurrent use.
type Bus struct {
	js   jetstream.JetStream
	opts []jetstream.PublishOpt // events.PublishRetry, made once
}

// New returns a publisher on js.
func New(js jetstream.JetStream) *Bus { return &Bus{js: js, opts: events.PublishRetry()} }

// Publish validates ev, stores it for function, and waits for JetStream's acknowledgement. A
// duplicate (the same event id within the duplicate window) is acknowledged without a second
// invocation.
func (b *Bus) Publish(ctx context.Context, function string, ev event.Event) error {
	if err := events.ValidateName(function); err != nil {
		return err
	}
	m, err := events.NewMsg(events.SubjectOf(function, ev), ev)
	if err != nil {
		return err
	}
	if _, err := b.js.PublishMsg(ctx, m, b.opts...); err != nil {
		return fmt.Errorf("publish %s event %s: %w", function, ev.ID(), err)
	}
	return nil
}
