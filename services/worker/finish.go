package worker

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// job is one delivery of an invocation event.
type job struct {
	msg      jetstream.Msg
	fn       string
	id       string
	trigger  string
	reply    string // sync caller's inbox, "" for async
	attempt  int    // 1 for the first delivery
	retries  int    // async retries the function allows
	enqueued time.Time
	progress func() // stops the InProgress ticks; called before the event is acknowledged
}

// retryable reports whether another attempt could succeed.
func retryable(o events.Outcome) bool {
	return o != events.OutcomeOK && o != events.OutcomeRejected
}

// Backoff is the delay before async retry number attempt (1-based): 1s, 2s, 4s, … capped at 1m.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 6)
	return min(d, time.Minute)
}

// finish maps an attempt's result to the event's acknowledgement and tells whoever waits: the
// one place where outcomes become Ack, NakWithDelay, or DLQ-then-Term.
func (w *Worker) finish(ctx context.Context, j job, res events.Result) {
	if j.progress != nil {
		j.progress()
	}
	log := w.logger.With("function", j.fn, "invocation", j.id, "attempt", j.attempt, "outcome", res.Outcome)
	if j.reply != "" { // synchronous: the caller gets the outcome, no retry (as Lambda)
		if err := w.nc.PublishMsg(events.NewReply(j.reply, res)); err != nil {
			log.Warn("reply to caller", "err", err)
		}
		w.ack(j, log)
		return
	}
	res.Attempts = j.attempt
	switch {
	case res.Outcome == events.OutcomeOK:
		res.Status = events.StatusSucceeded
		w.putResult(ctx, res, log)
		w.ack(j, log)
	case retryable(res.Outcome) && j.attempt <= j.retries:
		res.Status = events.StatusQueued // waiting for the next attempt
		w.putResult(ctx, res, log)
		delay := w.backoff(j.attempt)
		log.Info("invocation failed, will retry", "in", delay)
		if err := j.msg.NakWithDelay(delay); err != nil {
			log.Warn("nak", "err", err)
		}
	default:
		res.Status = events.StatusFailed
		if err := w.deadLetter(ctx, j, res); err != nil {
			// Not acknowledged: JetStream redelivers it and the dead-lettering is tried again.
			log.Error("dead-letter", "err", err)
			return
		}
		w.putResult(ctx, res, log)
		if err := j.msg.Term(); err != nil {
			log.Warn("term", "err", err)
		}
		log.Warn("invocation dead-lettered")
	}
}

func (w *Worker) ack(j job, log interface{ Warn(string, ...any) }) {
	if err := j.msg.Ack(); err != nil {
		log.Warn("ack", "err", err)
	}
}

func (w *Worker) putResult(ctx context.Context, res events.Result, log interface{ Warn(string, ...any) }) {
	res.Payload = events.RawJSON(res.Payload)
	b, err := json.Marshal(res)
	if err != nil {
		log.Warn("encode result", "err", err)
		return
	}
	if _, err := w.results.Put(ctx, res.ID, b); err != nil {
		log.Warn("store result", "err", err)
	}
}

// Headers a dead-lettered event carries beside its own.
const (
	HeaderDLQError    = "Sluice-Error"
	HeaderDLQOutcome  = "Sluice-Outcome"
	HeaderDLQAttempts = "Sluice-Attempts"
	HeaderDLQTime     = "Sluice-Failed-At"
)

func (w *Worker) deadLetter(ctx context.Context, j job, res events.Result) error {
	m := nats.NewMsg(events.DLQSubject(j.fn))
	for k, vs := range j.msg.Headers() {
		if k != nats.MsgIdHdr && k != events.HeaderReply {
			m.Header[k] = vs
		}
	}
	errJSON, _ := json.Marshal(res.Error) // strings only
	m.Header.Set(HeaderDLQError, string(errJSON))
	m.Header.Set(HeaderDLQOutcome, string(res.Outcome))
	m.Header.Set(HeaderDLQAttempts, strconv.Itoa(j.attempt))
	m.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Header.Set(nats.MsgIdHdr, "dlq-"+j.id+"."+j.msg.Headers().Get(events.HeaderRedrive)) // a redelivered event is dead-lettered once, a redriven one again
	m.Data = j.msg.Data()
	_, err := w.js.PublishMsg(ctx, m)
	return err
}
