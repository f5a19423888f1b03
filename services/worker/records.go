package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// records is what the worker knows of async events beyond their delivery: their records in
// sluice_results (outcomes, handed-back deliveries), the outcomes it holds for a write, and the
// duplicate deliveries it settled. Safe for concurrent use.
type records struct {
	results jetstream.KeyValue
	held    holding    // outcomes not written yet, for their redelivery
	dups    duplicates // deliveries settled without a run, their outcome recorded already
	logger  *slog.Logger
}

// held is an async outcome the worker could not write yet: its result, and whether its dead
// letter is published already.
type held struct {
	res          events.Result
	deadLettered bool
	at           time.Time
}

// Outcomes are held for at most maxHeld events, each for heldFor: a redelivery that another
// worker took runs the event again there, and the outcome held here is forgotten.
const (
	maxHeld = 10000
	heldFor = time.Hour
)

// holding keeps held outcomes by event. The zero value is ready; safe for concurrent use.
type holding struct {
	mu sync.Mutex
	m  map[heldKey]held
}

// heldKey is an event's id and how often it was redriven.
type heldKey struct {
	id      string
	redrive int
}

// put holds o for the event id at redrive; false when maxHeld outcomes are held already.
func (h *holding) put(id string, redrive int, o held) bool {
	key := heldKey{id, redrive}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[heldKey]held{}
	}
	if _, ok := h.m[key]; !ok && len(h.m) >= maxHeld {
		for k, x := range h.m {
			if time.Since(x.at) > heldFor {
				delete(h.m, k)
			}
		}
		if len(h.m) >= maxHeld {
			return false
		}
	}
	h.m[key] = o
	return true
}

// take removes and returns the outcome held for the event id at redrive.
func (h *holding) take(id string, redrive int) (held, bool) {
	key := heldKey{id, redrive}
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.m[key]
	delete(h.m, key)
	if ok && time.Since(o.at) > heldFor {
		return held{}, false
	}
	return o, ok
}

// duplicates counts, by function, deliveries settled without a run because their event's
// outcome was recorded already. Safe for concurrent use.
type duplicates struct {
	mu sync.Mutex
	n  map[string]uint64
}

// counts returns the deliveries settled, by function.
func (d *duplicates) counts() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.n)
}

// add counts one delivery of fn settled without a run.
func (d *duplicates) add(fn string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]uint64{}
	}
	d.n[fn]++
}

// Duplicates returns, by function, how many deliveries this worker settled without running the
// function because the event's outcome was recorded already: a lost acknowledgement, a worker
// that died after writing the result, or an event published again under another message id.
// They are counted since the worker started (sluice_duplicate_deliveries_total).
func (w *Worker) Duplicates() map[string]uint64 {
	return w.records.dups.counts()
}

// recall finds what is known of an async event already: an outcome held here for its write (the
// delivery writes it, without a run), or a recorded outcome (a duplicate delivery, settled
// without a run). Otherwise it sets the attempt this delivery makes.
func (w *Worker) recall(ctx context.Context, j *job) (outcome, bool) {
	if j.reply != "" {
		return outcome{}, false
	}
	if o, ok := w.records.held.take(j.id, j.redrive); ok { // ran here before: write its outcome
		j.attempt, j.deadLettered = o.res.Attempts, o.deadLettered
		return outcome{exit: ran, res: o.res}, true
	}
	if j.fresh && j.delivered <= 1 && j.redrive == 0 { // its id was minted for it: nothing recorded yet
		j.attempt = max(1, j.startsAt)
		return outcome{}, false
	}
	if r, ok := w.records.recorded(ctx, *j); ok {
		return outcome{exit: recorded, res: r}, true
	}
	j.attempt = w.records.attempt(ctx, *j) + max(1, j.startsAt) - 1
	return outcome{}, false
}

// recorded returns the record of an async event that finished before (succeeded, or
// dead-lettered in this run through the queue), so that its delivery settles without running
// the function again. A record that cannot be read leaves the event to run: delivery is at
// least once where the platform cannot tell.
func (rec *records) recorded(ctx context.Context, j job) (events.Result, bool) {
	r, err := events.ReadResult(ctx, rec.results, j.id)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
			rec.logger.Warn("read the invocation's record; running it", "function", j.fn, "invocation", j.id, "err", err)
		}
		return r, false
	}
	done := r.Status == events.StatusSucceeded || r.Status == events.StatusFailed && r.Redriven == j.redrive
	return r, done
}

// attempt is the run of the function an async delivery makes: JetStream's delivery count less
// the deliveries handed back without a run (HandbackKey). A delivery lost with a worker that died
// counts: it may have run the function, and an event that kills its worker must not come back
// forever. A count that cannot be read leaves the delivery count, never lower than the runs.
func (rec *records) attempt(ctx context.Context, j job) int {
	if j.delivered <= 1 {
		return 1
	}
	n, err := events.ReadHandbacks(ctx, rec.results, j.id, j.redrive)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
			rec.logger.Warn("read the handed-back deliveries; counting every delivery", "function", j.fn, "invocation", j.id, "err", err)
		}
		return j.delivered
	}
	return max(j.delivered-n, 1)
}

// store writes an async invocation's record, tried up to tries times. A bucket that refuses the
// record as too large (a server with a smaller message size) gets it without the response and
// with the error cut to a header's size.
func (rec *records) store(ctx context.Context, res events.Result, tries int) error {
	full, err := events.EncodeResult(res)
	if err != nil {
		if full, err = events.EncodeResult(res.Small()); err != nil {
			return fmt.Errorf("%w: %w", errUnstorable, err)
		}
	}
	key := events.ResultKey(res.ID)
	return retry(ctx, tries, func() error {
		_, err := rec.results.Put(ctx, key, full)
		if tooLarge(err) {
			var small []byte
			if small, err = events.EncodeResult(res.Small()); err == nil {
				_, err = rec.results.Put(ctx, key, small)
			}
		}
		if err != nil {
			return fmt.Errorf("store result %s: %w", res.ID, err)
		}
		return nil
	})
}

// countHandback counts a delivery handed back without a run (HandbackKey), so it spends no
// retry. A count that cannot be written makes the delivery count as an attempt: retries are
// never more than the function allows.
func (rec *records) countHandback(ctx context.Context, j job, log *slog.Logger) {
	if err := events.CountHandback(ctx, rec.results, j.id, j.redrive); err != nil {
		log.Warn("count a handed-back delivery", "err", err)
	}
}
