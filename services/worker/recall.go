package worker

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

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
	m  map[string]held
}

func heldKey(id string, redrive int) string {
	return events.KeyToken(id) + "." + strconv.Itoa(redrive)
}

// put holds o under key; false when maxHeld outcomes are held already.
func (h *holding) put(key string, o held) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]held{}
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

// take removes and returns the outcome held under key.
func (h *holding) take(key string) (held, bool) {
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
	w.dups.mu.Lock()
	defer w.dups.mu.Unlock()
	return maps.Clone(w.dups.n)
}

// recall finds what is known of an async event already: an outcome held here for its write (the
// delivery writes it, without a run), or a recorded outcome (a duplicate delivery, settled
// without a run). Otherwise it sets the attempt this delivery makes.
func (w *Worker) recall(ctx context.Context, j *job) (outcome, bool) {
	if j.reply != "" {
		return outcome{}, false
	}
	if o, ok := w.held.take(heldKey(j.id, j.redrive)); ok { // ran here before: write its outcome
		j.attempt, j.deadLettered = o.res.Attempts, o.deadLettered
		return outcome{exit: ran, res: o.res}, true
	}
	if r, ok := w.recorded(ctx, *j); ok {
		return outcome{exit: recorded, res: r}, true
	}
	j.attempt = w.attempt(ctx, *j)
	return outcome{}, false
}

// recorded returns the record of an async event that finished before (succeeded, or
// dead-lettered in this run through the queue), so that its delivery settles without running
// the function again. A record that cannot be read leaves the event to run: delivery is at
// least once where the platform cannot tell.
func (w *Worker) recorded(ctx context.Context, j job) (events.Result, bool) {
	var r events.Result
	e, err := w.results.Get(ctx, events.ResultKey(j.id))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
			w.logger.Warn("read the invocation's record; running it", "function", j.fn, "invocation", j.id, "err", err)
		}
		return r, false
	}
	if json.Unmarshal(e.Value(), &r) != nil || r.ID != j.id {
		return r, false
	}
	done := r.Status == events.StatusSucceeded || r.Status == events.StatusFailed && r.Redriven == j.redrive
	return r, done
}

// attempt is the run of the function an async delivery makes: JetStream's delivery count less
// the deliveries handed back without a run (HandbackKey). A delivery lost with a worker that died
// counts: it may have run the function, and an event that kills its worker must not come back
// forever. A count that cannot be read leaves the delivery count, never lower than the runs.
func (w *Worker) attempt(ctx context.Context, j job) int {
	if j.delivered <= 1 {
		return 1
	}
	e, err := w.results.Get(ctx, events.HandbackKey(j.id, j.redrive))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
			w.logger.Warn("read the handed-back deliveries; counting every delivery", "function", j.fn, "invocation", j.id, "err", err)
		}
		return j.delivered
	}
	n, _ := strconv.Atoi(string(e.Value()))
	return max(j.delivered-n, 1)
}
