// Package broker is the CloudEvents trigger kind: CloudEvents sent to the node over HTTP
// (POST /v1/events) or NATS (events.IngressSubject) are checked at the edge and routed to the
// functions whose subscriptions (events.CloudEventsSpec in the sluice_triggers bucket) they
// pass, as Knative's broker and triggers do.
//
// It owns what is particular to the kind:
//   - Compile checks a subscription; Factory is the kind's trigger.Factory, so the API refuses a
//     bad one when it is added and the adapters role reports it as running.
//   - Table is the live set of subscriptions, following the bucket; Table.Match finds those an
//     event passes.
//   - ReadHTTP and ReadNATS read the events of a request or message in any of the CloudEvents
//     modes (binary, structured, batch); Check refuses what may not come in.
//   - Invocation makes the invocation event of one event for one subscription.
//
// What stays in the gateway (services/gateway): listening, who the caller is and which
// functions it may reach, and publishing.
package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Subscription is one function's subscription to the events that pass its filters.
type Subscription struct {
	ID       string // the trigger's id
	Function string
	Spec     events.CloudEventsSpec
}

// maxFilter bounds each filter, in bytes.
const maxFilter = 1024

// Compile checks a CloudEvents trigger spec.
func Compile(t events.Trigger) (Subscription, error) {
	if t.Kind != events.TriggerCloudEvents || t.CloudEvents == nil {
		return Subscription{}, fmt.Errorf("%w: not a cloudevents trigger", events.ErrInvalidTrigger)
	}
	if err := t.Validate(); err != nil {
		return Subscription{}, err
	}
	s := *t.CloudEvents
	for name, f := range map[string]string{
		"type": s.Type, "type prefix": s.TypePrefix, "type suffix": s.TypeSuffix,
		"source": s.Source, "source prefix": s.SourcePrefix, "source suffix": s.SourceSuffix,
		"subject": s.Subject, "subject prefix": s.SubjectPrefix, "subject suffix": s.SubjectSuffix,
	} {
		if len(f) > maxFilter || strings.ContainsAny(f, "\x00\r\n") {
			return Subscription{}, fmt.Errorf("%w: %s filter %q: at most %d bytes, no NUL or line breaks", events.ErrInvalidTrigger, name, f, maxFilter)
		}
	}
	return Subscription{ID: t.ID, Function: t.Function, Spec: s}, nil
}

// Factory is the kind's trigger.Factory: the gateway serves subscriptions, so the adapter only
// reports one as running.
func Factory(spec events.Trigger) (trigger.Adapter, error) {
	if _, err := Compile(spec); err != nil {
		return nil, err
	}
	return trigger.Served{}, nil
}

// Matches reports whether ev passes every filter of s.
func (s Subscription) Matches(ev event.Event) bool {
	f := s.Spec
	pass := func(v, exact, prefix, suffix string) bool {
		return (exact == "" || v == exact) && strings.HasPrefix(v, prefix) && strings.HasSuffix(v, suffix)
	}
	return pass(ev.Type(), f.Type, f.TypePrefix, f.TypeSuffix) &&
		pass(ev.Source(), f.Source, f.SourcePrefix, f.SourceSuffix) &&
		pass(ev.Subject(), f.Subject, f.SubjectPrefix, f.SubjectSuffix)
}

// Table is the live set of subscriptions, following the sluice_triggers bucket.
type Table struct{ t *trigger.Table[Subscription] }

// Open loads the subscriptions of triggers (the sluice_triggers bucket) and keeps following it
// until Close. logger may be nil.
func Open(ctx context.Context, triggers trigger.Watcher, logger *slog.Logger) (*Table, error) {
	t, err := trigger.OpenTable(ctx, triggers, events.TriggerCloudEvents, Compile, logger)
	if err != nil {
		return nil, err
	}
	return &Table{t: t}, nil
}

// Close stops following the bucket.
func (t *Table) Close() { t.t.Close() }

// Match returns the subscriptions ev passes, by trigger id.
func (t *Table) Match(ev event.Event) []Subscription {
	var out []Subscription
	for _, s := range t.t.All() {
		if s.Matches(ev) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Extensions of an invocation event made from a CloudEvent that came in.
const (
	// ExtEventID is the id the event came with; the invocation has its own.
	ExtEventID = "sluiceeventid"
	// ExtSubscription is the trigger id of the subscription that routed it.
	ExtSubscription = "sluicesubscription"
)

// Invocation is the invocation event of ev for s: ev with its attributes, extensions and data,
// sluice's own extensions dropped, an id of its own made of the subscription and the event's source and id (so the same event
// sent twice runs once per subscription, and two subscriptions each run it), the id it came
// with in ExtEventID, and the hops it came through counted one more.
func Invocation(ev event.Event, s Subscription) event.Event {
	inv := ev.Clone()
	for name := range ev.Extensions() {
		if own(name) {
			inv.SetExtension(name, nil) // sluice's own: a sender does not choose them
		}
	}
	h := sha256.Sum256([]byte(ev.Source() + "\x00" + ev.ID()))
	inv.SetID(s.ID + "-" + hex.EncodeToString(h[:12]))
	inv.SetExtension(ExtEventID, ev.ID())
	inv.SetExtension(ExtSubscription, s.ID)
	inv.SetExtension(events.ExtTrigger, events.TriggerCloudEvents)
	inv.SetExtension(events.ExtHops, strconv.Itoa(events.EventHops(ev)+1))
	return inv
}
