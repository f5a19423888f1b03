package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"sluice.dev/adapters/broker"
	"sluice.dev/events"
	"sluice.dev/services/access"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
)

// ingest answers POST /v1/events: CloudEvents in any HTTP mode, each routed to the functions
// whose subscriptions it passes and that the caller may invoke. 202 with what each became; 400
// for an event the spec or sluice refuses (then nothing is routed), 413 for a body too large.
func (g *Gateway) ingest(w http.ResponseWriter, r *http.Request) {
	evs, err := broker.ReadHTTP(r)
	if err != nil {
		refuseEvents(w, err)
		return
	}
	caller := access.CallerOf(r.Context())
	ans, err := g.Ingest(r.Context(), evs, func(fn string) bool { return caller.Allows(keys.Invoke, fn) })
	if err != nil {
		httpjson.Error(w, http.StatusServiceUnavailable, httpjson.CodeUnavailable, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, ans)
}

func refuseEvents(w http.ResponseWriter, err error) {
	if errors.Is(err, broker.ErrTooLarge) {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, httpjson.CodeTooLarge, "%v", err)
		return
	}
	httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
}

// Ingest routes events that came in (checked already, broker.Check) to the subscriptions they
// pass whose functions may reaches, each stored as an invocation event of its own
// (broker.Invocation). An event that came through events.MaxHops routings and destinations in
// a row goes nowhere. It returns once every invocation is stored.
func (g *Gateway) Ingest(ctx context.Context, evs []event.Event, may func(fn string) bool) (wire.Ingested, error) {
	ans := wire.Ingested{Events: make([]wire.IngestedEvent, len(evs))}
	for i, ev := range evs {
		out := wire.IngestedEvent{ID: ev.ID(), Source: ev.Source(), Invocations: []wire.IngestedInvocation{}}
		if hops := events.EventHops(ev); hops >= events.MaxHops {
			out.Dropped = fmt.Sprintf("the event came through %d routings in a row, the most there may be", hops)
			ans.Events[i] = out
			continue
		}
		for _, s := range g.subs.Match(ev) {
			if !may(s.Function) {
				continue
			}
			inv := broker.Invocation(ev, s)
			m, err := events.NewMsg(events.SubjectOf(s.Function, inv), inv)
			if err != nil {
				return ans, fmt.Errorf("event %s for %s: %w", ev.ID(), s.Function, err)
			}
			if _, err := g.js.PublishMsg(ctx, m, g.publish...); err != nil {
				return ans, fmt.Errorf("store event %s for %s: %w", ev.ID(), s.Function, err)
			}
			out.Invocations = append(out.Invocations, wire.IngestedInvocation{Function: s.Function, Trigger: s.ID, ID: inv.ID()})
		}
		ans.Events[i] = out
	}
	return ans, nil
}

// ingestTimeout bounds storing the events of one message on the bus.
const ingestTimeout = 30 * time.Second

// ingestNATS takes CloudEvents sent to events.IngressSubject, as ingest does over HTTP; a
// request gets the same answer as JSON (or {"error": ...}). Senders on the bus are the bus's
// users: every subscription is theirs.
func (g *Gateway) ingestNATS(m *nats.Msg) {
	answer := func(v any) {
		if m.Reply == "" {
			return
		}
		b, err := json.Marshal(v)
		if err == nil {
			err = m.Respond(b)
		}
		if err != nil {
			g.logger.Warn("answer to events sent on the bus", "err", err)
		}
	}
	evs, err := broker.ReadNATS(m)
	if err != nil {
		g.logger.Info("events on the bus refused", "subject", m.Subject, "err", err)
		answer(httpjson.ErrorBody{Error: httpjson.ErrorDetail{Code: httpjson.CodeBadRequest, Message: err.Error()}})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ingestTimeout)
	defer cancel()
	ans, err := g.Ingest(ctx, evs, func(string) bool { return true })
	if err != nil {
		g.logger.Warn("events on the bus not stored", "err", err)
		answer(httpjson.ErrorBody{Error: httpjson.ErrorDetail{Code: httpjson.CodeUnavailable, Message: err.Error()}})
		return
	}
	answer(ans)
}
