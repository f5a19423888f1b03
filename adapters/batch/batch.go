// Package batch groups the events a trigger adapter publishes into batches: one invocation of
// the function gets up to events.Batch.Size of them, once that many are there or the first has
// waited the batch's window.
//
// Publisher sits between an adapter and the bus. Its Publish blocks until the batch holding the
// event is stored, and returns that batch's error to every event in it, so an adapter that
// settles a source message after Publish returns (acknowledges it, or gives it back) needs no
// change: it only needs at least Size publishes in flight at once to fill a batch.
package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Merge makes the one event of a batch from its members, in the order they were published.
type Merge func(members []event.Event) (event.Event, error)

// storeTimeout bounds the bus's answer to one batch: the callers' contexts differ, and the
// batch is stored for all of them.
const storeTimeout = 30 * time.Second

// Publisher batches the events of one trigger. Safe for concurrent use.
type Publisher struct {
	next   trigger.Publisher
	spec   events.Batch
	merge  Merge
	window time.Duration

	mu   sync.Mutex
	open *pending // the batch taking events, nil when none
}

// pending is one batch being filled, then stored.
type pending struct {
	function string
	members  []event.Event
	size     int // bytes of the members' data
	timer    *time.Timer
	done     chan struct{}
	err      error
}

// New returns a Publisher storing batches made by merge through next.
func New(next trigger.Publisher, spec events.Batch, merge Merge) *Publisher {
	return &Publisher{next: next, spec: spec, merge: merge, window: spec.WindowOrDefault()}
}

// Publish adds ev to the open batch and returns once that batch is stored (or could not be),
// or when ctx ends. A batch whose data would pass events.MaxPayload is closed before ev.
func (p *Publisher) Publish(ctx context.Context, function string, ev event.Event) error {
	size := len(ev.Data()) + 1024 // the record around the data
	p.mu.Lock()
	if b := p.open; b != nil && (b.function != function || b.size+size > events.MaxPayload*3/4) {
		p.closeLocked(b)
	}
	b := p.open
	if b == nil {
		b = &pending{function: function, done: make(chan struct{})}
		p.open = b
		b.timer = time.AfterFunc(p.window, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.open == b {
				p.closeLocked(b)
			}
		})
	}
	b.members = append(b.members, ev)
	b.size += size
	if len(b.members) >= p.spec.Size {
		p.closeLocked(b)
	}
	p.mu.Unlock()

	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeLocked takes b out of the open place and stores it in the background. p.mu is held.
func (p *Publisher) closeLocked(b *pending) {
	p.open = nil
	b.timer.Stop()
	go p.store(b)
}

func (p *Publisher) store(b *pending) {
	defer close(b.done)
	ev, err := p.merge(b.members)
	if err != nil {
		b.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	b.err = p.next.Publish(ctx, b.function, ev)
}

// ID is a batch's event id: the trigger's id and a hash of the members' ids, so the same
// members make the same id and a batch published twice runs once.
func ID(trigger string, ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s-batch-%s", trigger, hex.EncodeToString(h.Sum(nil)[:12]))
}

// Mark sets ExtBatch on a batch event: "1", or events.BatchReport when its function reports
// the records that failed.
func Mark(ev *event.Event, spec events.Batch) {
	mark := "1"
	if spec.ReportItemFailures {
		mark = events.BatchReport
	}
	ev.SetExtension(events.ExtBatch, mark)
}

// Stamp sets what every batch event carries: its id, ExtBatch, the hops of its most travelled
// member, and the records as data.
func Stamp(ev *event.Event, spec events.Batch, trigger string, members []event.Event, records []any) error {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID()
	}
	ev.SetID(ID(trigger, ids))
	Mark(ev, spec)
	hops := 0
	for _, m := range members {
		hops = max(hops, events.EventHops(m))
	}
	if hops > 0 {
		ev.SetExtension(events.ExtHops, fmt.Sprint(hops))
	}
	return ev.SetData(event.ApplicationJSON, map[string]any{"Records": records})
}
