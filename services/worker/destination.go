package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// eventAgeExceeded is the error type of an async event dead-lettered unrun because it waited
// longer than its function's MaxEventAge.
const eventAgeExceeded = "EventAgeExceeded"

// tooOld ends an asynchronous delivery whose event waited, retries included, longer than its
// function allows: it is dead-lettered unrun, and its failure destination told so.
func tooOld(j job, v events.Version, now time.Time) (outcome, bool) {
	maxAge := v.Config.MaxEventAge.D()
	if maxAge <= 0 {
		maxAge = events.DefaultMaxEventAge
	}
	if j.reply != "" || j.enqueued.IsZero() || now.Sub(j.enqueued) <= maxAge {
		return outcome{}, false
	}
	return outcome{exit: ran, res: events.Result{ID: j.id, Function: j.fn, Version: v.Version, Outcome: events.OutcomeRejected,
		Error: &events.FunctionError{Type: eventAgeExceeded, Message: fmt.Sprintf("the event waited %s, longer than the function's maxEventAge of %s",
			now.Sub(j.enqueued).Round(time.Second), maxAge)}}}, true
}

// condition is why an async outcome goes to a destination.
func condition(res events.Result) string {
	switch {
	case res.Outcome == events.OutcomeOK:
		return events.ConditionSuccess
	case res.Error != nil && res.Error.Type == eventAgeExceeded:
		return events.ConditionEventAgeExceeded
	}
	return events.ConditionRetriesExhausted
}

// destine sends the outcome of an async event to its function's destination for it (on success
// or on failure), when there is one: a record of the invocation (events.DestinationRecord). A
// record whose event came through events.MaxHops destinations already is not sent, so functions
// that send to each other stop. Sending to a function stores its event under an id made of this
// event's, so a second try is a duplicate JetStream drops.
func (w *Worker) destine(ctx context.Context, j job, res events.Result, log *slog.Logger) error {
	to := j.onFailure
	if res.Outcome == events.OutcomeOK {
		to = j.onSuccess
	}
	d, err := events.ParseDestination(to)
	if err != nil || d.Kind == "" || d.Kind == events.DestinationDLQ { // checked at deploy; the dead letter goes anyway
		return nil
	}
	if j.hops >= events.MaxHops {
		log.Warn("destination not sent: the event came through the most destinations in a row", "destination", d, "hops", j.hops)
		w.platformLine(j, events.Version{Version: res.Version}, fmt.Sprintf("WARNING RequestId: %s destination %s not sent: the event came through %d destinations in a row, the most there may be", j.id, d, j.hops))
		return nil
	}
	cond := condition(res)
	body, err := json.Marshal(events.NewDestinationRecord(j.fn, j.msg.Data(), res, cond, time.Now()))
	if err != nil {
		return fmt.Errorf("destination record: %w", err)
	}
	id := fmt.Sprintf("%s/%d/%s", j.id, j.redrive, cond)
	switch d.Kind {
	case events.DestinationFunction:
		ev := event.New()
		ev.SetID(id)
		ev.SetType(events.TypeDestination)
		ev.SetSource("/sluice/functions/" + j.fn)
		ev.SetTime(time.Now())
		ev.SetExtension(events.ExtTrigger, "destination")
		ev.SetExtension(events.ExtHops, strconv.Itoa(j.hops+1))
		ev.DataEncoded = body
		ev.SetDataContentType("application/json")
		m, err := events.NewMsg(events.EventSubject(d.Target, id), ev)
		if err != nil {
			return err
		}
		_, err = w.js.PublishMsg(ctx, m)
		if err != nil {
			return fmt.Errorf("destination %s: %w", d, err)
		}
	case events.DestinationNATS:
		m := nats.NewMsg(d.Target)
		m.Header.Set(nats.MsgIdHdr, events.KeyToken(id))
		m.Header.Set(events.HeaderHops, strconv.Itoa(j.hops+1))
		m.Data = body
		// Stored when a stream takes the subject, and acknowledged; else to whoever listens
		// (a publish waiting for an acknowledgement would wait on any plain subscriber).
		_, err := w.js.StreamNameBySubject(ctx, d.Target)
		switch {
		case err == nil:
			_, err = w.js.PublishMsg(ctx, m)
		case errors.Is(err, jetstream.ErrStreamNotFound):
			err = w.nc.PublishMsg(m)
		}
		if err != nil {
			return fmt.Errorf("destination %s: %w", d, err)
		}
	}
	log.Info("outcome sent to its destination", "destination", d, "condition", cond)
	return nil
}
