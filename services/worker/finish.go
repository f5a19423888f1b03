package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// outcome is how a delivery ended, for finish to acknowledge: its exit and the result that goes
// to the caller, the record or the dead letter.
type outcome struct {
	exit exit
	res  events.Result
	err  error // why the delivery is left unacknowledged (unmetered)
	// delay is how soon a handed-back event is offered again; capacityRetry when zero.
	delay time.Duration
}

// exit is how a delivery ends.
type exit int

const (
	ran        exit = iota // the function ran, or never can (rejected): the result says how it went
	expired                // a synchronous caller's deadline passed before the run: nobody to run it for
	handedBack             // no instance slot on this worker: back to the consumer, spending no retry
	recorded               // the event's outcome is recorded already: a duplicate delivery
	unmetered              // the attempt's meter record is not stored: no acknowledgement, delivered again
)

// retryable reports whether another attempt could succeed.
func retryable(o events.Outcome) bool {
	return o != events.OutcomeOK && o != events.OutcomeRejected
}

// Backoff is the delay before async retry number attempt (1-based): 1s, 2s, 4s, … capped at 1m.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 6)
	return min(d, time.Minute)
}

// Writes of a result record or a dead letter are tried writeTries times, writeWait apart and
// doubling, and for up to writeFor while they fail for want of the bus (see retry), before the
// event goes back to the consumer with its outcome held for its redelivery.
const (
	writeTries = 5
	writeWait  = 100 * time.Millisecond
	writeFor   = 30 * time.Second // how long writes wait for the bus (transient)
)

// errUnstorable marks a result record that no results bucket can hold.
var errUnstorable = errors.New("result cannot be recorded")

// finish maps how a delivery ended to the event's acknowledgement and tells whoever waits: the
// one place where outcomes become Ack, NakWithDelay, or DLQ-then-Term, or, for an attempt whose
// meter record is not stored, no acknowledgement at all. An async outcome is acknowledged only
// once it is written: a result or dead letter that cannot be written even after writeTries is
// held by the worker and the event goes back to the consumer, whose redelivery writes it without
// running the function again.
func (w *Worker) finish(ctx context.Context, j job, o outcome) {
	log := withAttrs(w.logger, slog.String("function", j.fn), slog.String("invocation", j.id), slog.Int("delivery", j.delivered),
		slog.Int("attempt", j.attempt), slog.String("outcome", string(o.res.Outcome)))
	switch o.exit {
	case expired:
		log.Info("dropping an expired synchronous invocation")
		j.settle(log, "term", j.msg.Term)
	case handedBack:
		if j.reply == "" {
			w.records.countHandback(ctx, j, log)
		}
		j.settle(log, "nak", func() error { return j.msg.NakWithDelay(cmp.Or(o.delay, capacityRetry)) })
	case recorded:
		w.records.dups.add(j.fn)
		log.Info("event finished before; settled without running it again", "status", o.res.Status)
		if o.res.Status == events.StatusSucceeded {
			j.settle(log, "ack", j.msg.Ack)
		} else {
			j.settle(log, "term", j.msg.Term)
		}
	case unmetered:
		// No acknowledgement without the meter record: the event is delivered again after the
		// ack wait, and that delivery makes the record.
		log.Error("meter record not stored; the event is left to be delivered again", "err", o.err)
	default:
		if j.reply != "" { // synchronous: the caller gets the outcome, no retry (as Lambda)
			if !j.replied {
				w.reply(j, o.res)
			}
			j.settle(log, "ack", j.msg.Ack)
			return
		}
		w.finishAsync(ctx, j, o.res, log)
	}
}

// finishAsync records an async attempt and acknowledges its event: a success is written, then
// acked; a failure with retries left is naked with the back-off; any other is dead-lettered,
// its failed record written last, then terminated.
func (w *Worker) finishAsync(ctx context.Context, j job, res events.Result, log *slog.Logger) {
	res.Attempts, res.Redriven = j.attempt, j.redrive
	switch {
	case res.Outcome == events.OutcomeOK:
		res.Status = events.StatusSucceeded
		if j.reportsItems {
			if err := retry(ctx, writeTries, func() error { return w.retryItems(ctx, j, &res, log) }); err != nil {
				w.hold(j, res, log, "run the batch's failed records again", err)
				return
			}
		}
		// The destination first: a record stored says everything is done.
		if err := retry(ctx, writeTries, func() error { return w.destine(ctx, j, res, log) }); err != nil {
			w.hold(j, res, log, "send to the destination", err)
			return
		}
		if err := w.records.store(ctx, res, writeTries); err != nil && !errors.Is(err, errUnstorable) {
			w.hold(j, res, log, "store result", err)
			return
		} else if err != nil {
			log.Error("store result", "err", err)
		}
		j.settle(log, "ack", j.msg.Ack)
	case retryable(res.Outcome) && j.attempt <= j.retries:
		res.Status = events.StatusQueued // waiting for the next attempt, which writes its own record
		if err := w.records.store(ctx, res, 1); err != nil {
			log.Warn("store result", "err", err)
		}
		delay := w.backoff(j.attempt)
		log.Info("invocation failed, will retry", "in", delay)
		j.settle(log, "nak", func() error { return j.msg.NakWithDelay(delay) })
	default:
		res.Status = events.StatusFailed
		if !j.deadLettered {
			if err := retry(ctx, writeTries, func() error { return w.destine(ctx, j, res, log) }); err != nil {
				w.hold(j, res, log, "send to the destination", err)
				return
			}
			if err := retry(ctx, writeTries, func() error { return w.deadLetter(ctx, j, res) }); err != nil {
				w.hold(j, res, log, "dead-letter", err)
				return
			}
			j.deadLettered = true
		}
		// A failed record of this redrive count says the dead letter exists: it is written last.
		if res.ID != "" {
			if err := w.records.store(ctx, res, writeTries); err != nil && !errors.Is(err, errUnstorable) {
				w.hold(j, res, log, "store result", err)
				return
			} else if err != nil {
				log.Error("store result", "err", err)
			}
		}
		j.settle(log, "term", j.msg.Term)
		log.Warn("invocation dead-lettered")
	}
}

// settle stops the InProgress ticks and acknowledges the event with ack.
func (j job) settle(log *slog.Logger, what string, ack func() error) {
	if j.progress != nil {
		j.progress()
	}
	if err := ack(); err != nil {
		log.Warn(what, "err", err)
	}
}

// hold keeps an outcome the worker could not write and gives the event back to the consumer:
// its redelivery to this worker writes the outcome without running the function again.
func (w *Worker) hold(j job, res events.Result, log *slog.Logger, what string, err error) {
	delay := w.backoff(j.delivered)
	if j.id != "" && !w.records.held.put(j.id, j.redrive, held{res: res, deadLettered: j.deadLettered, at: time.Now()}) {
		log.Warn("too many outcomes held for a write; this one is not", "held", maxHeld)
	}
	log.Error(what+": the event goes back to the bus, its outcome is written on its redelivery", "err", err, "in", delay)
	j.settle(log, "nak", func() error { return j.msg.NakWithDelay(delay) })
}

// retry calls f until it succeeds: up to tries times, writeWait apart and doubling (at most a
// second), and past tries while f fails for want of the bus (transient), for up to writeFor
// since the first try. A worker whose NATS node died reconnects to another, and a stream whose
// leader died elects another, within seconds: its writes wait for that, the event's progress
// ticks keeping the delivery its own, rather than handing the event back unwritten, whose
// redelivery to another worker would run the function again.
func retry(ctx context.Context, tries int, f func() error) error {
	wait, began := writeWait, time.Now()
	for i := 1; ; i++ {
		err := f()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if i >= tries && !(transient(err) && time.Since(began) < writeFor) {
			return err
		}
		sleep(ctx, wait)
		wait = min(2*wait, time.Second)
	}
}

// transient reports whether a write failed for want of the bus (a connection being made again,
// a stream without a leader for now) rather than for what was written.
func transient(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected)
}

// tooLarge reports whether a publish was refused for its size.
func tooLarge(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// deadLetter publishes the event to SLUICE_DLQ with the last error (cut to a header's size;
// left out when the event fills the message, the whole error is in its result record).
func (w *Worker) deadLetter(ctx context.Context, j job, res events.Result) error {
	return w.deadLetterMsg(ctx, j, j.id, j.msg.Headers(), j.msg.Data(), res)
}

// deadLetterMsg publishes the dead letter of the event id, header and data, from delivery j.
func (w *Worker) deadLetterMsg(ctx context.Context, j job, id string, header nats.Header, data []byte, res events.Result) error {
	m := events.NewDeadLetter(events.Exhausted{
		Function: j.fn, Header: header, Data: data,
		ID: id, Redrive: j.redrive, Seq: j.seq, Attempts: j.attempt, Result: res, At: time.Now(),
	})
	_, err := w.js.PublishMsg(ctx, m)
	if tooLarge(err) {
		events.DropDeadLetterError(m)
		_, err = w.js.PublishMsg(ctx, m)
	}
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", id, err)
	}
	return nil
}

// retryItems acts on a batch's answer naming records that failed (events.FailedRecords):
// those records become an event of their own at the next attempt, published now, or, with the
// function's retries spent, are dead-lettered. res, a success, counts them. The new event's id
// is made of the batch's and the attempt, so doing this again (a held outcome) sends nothing new.
func (w *Worker) retryItems(ctx context.Context, j job, res *events.Result, log *slog.Logger) error {
	failed, ferr := events.FailedRecords(j.msg.Data(), res.Payload)
	if len(failed) == 0 {
		return nil
	}
	res.FailedItems = len(failed)
	ev, err := events.ParseHeaders(j.msg.Headers(), j.msg.Data())
	if err != nil {
		return fmt.Errorf("batch event: %w", err)
	}
	next, err := events.RetryOfRecords(ev, failed, j.attempt+1, time.Now().Add(w.backoff(j.attempt)))
	if err != nil {
		return err
	}
	m, err := events.NewMsg(events.SubjectOf(j.fn, next), next)
	if err != nil {
		return err
	}
	if ferr != nil {
		log.Warn("batch answer names no record of the batch: every record failed", "err", ferr)
	}
	if j.attempt <= j.retries {
		log.Info("batch records failed, they run again", "records", len(failed), "event", next.ID())
		if _, err := w.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("publish the failed records of %s: %w", j.id, err)
		}
		return nil
	}
	log.Info("batch records failed with no retry left: dead-lettered", "records", len(failed))
	// Redriven, the records start their attempts again, as any redriven event does, at once.
	next.SetExtension(events.ExtAttempt, nil)
	next.SetExtension(events.ExtNotBefore, nil)
	if m, err = events.NewMsg(events.SubjectOf(j.fn, next), next); err != nil {
		return err
	}
	dead := *res
	dead.ID, dead.Status, dead.Outcome = next.ID(), events.StatusFailed, events.OutcomeError
	dead.Error = &events.FunctionError{Type: "BatchItemFailures",
		Message: fmt.Sprintf("%d records of the batch failed in attempt %d of %d", len(failed), j.attempt, j.retries+1)}
	return w.deadLetterMsg(ctx, j, next.ID(), m.Header, m.Data, dead)
}
