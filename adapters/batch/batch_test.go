package batch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/adapters/batch"
	"sluice.dev/adapters/publish"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// merge makes records of the members' data, as strings.
func merge(spec events.Batch) batch.Merge {
	return func(members []event.Event) (event.Event, error) {
		ev := event.New()
		ev.SetSource("/test")
		ev.SetType("test.batch")
		records := make([]any, len(members))
		for i, m := range members {
			records[i] = map[string]string{events.ItemID: m.ID(), "body": string(m.Data())}
		}
		return ev, batch.Stamp(&ev, spec, "t", members, records)
	}
}

func member(id string, size int) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType("test.one")
	ev.DataEncoded = []byte(strings.Repeat("x", size))
	return ev
}

// publishAll publishes the members at once, each from its own goroutine, as a queue adapter's
// deliveries do, and fails on any error.
func publishAll(t *testing.T, p *batch.Publisher, fn string, members []event.Event) {
	t.Helper()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			if err := p.Publish(context.Background(), fn, m); err != nil {
				t.Errorf("publish %s: %v", m.ID(), err)
			}
		})
	}
	wg.Wait()
}

// storedBatches returns the records of each batch stored for fn.
func storedBatches(t *testing.T, bus *bustest.Bus, fn string) [][]json.RawMessage {
	t.Helper()
	var out [][]json.RawMessage
	for _, m := range bustest.Messages(t, bus.JS, events.StreamInvoke) {
		if events.SubjectFunction(m.Subject) != fn {
			continue
		}
		var r events.Records
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("batch %s: %v", m.Data, err)
		}
		out = append(out, r.Records)
	}
	return out
}

// Three events with room for ten wait out the window and go as one batch; a batch never passes
// the payload limit, however many it has room for.
func TestWindowAndPayloadLimit(t *testing.T) {
	bus := bustest.Start(t)
	spec := events.Batch{Size: 10, Window: events.Duration(100 * time.Millisecond)}
	p := batch.New(publish.New(bus.JS), spec, merge(spec))

	began := time.Now()
	publishAll(t, p, "small", []event.Event{member("a", 10), member("b", 10), member("c", 10)})
	if waited := time.Since(began); waited < 100*time.Millisecond {
		t.Fatalf("stored after %s, before the window", waited)
	}
	if got := storedBatches(t, bus, "small"); len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("batches %d", len(got))
	}

	var big []event.Event
	for i := range 8 {
		big = append(big, member(fmt.Sprint("big", i), 1<<20))
	}
	publishAll(t, p, "big", big)
	got := storedBatches(t, bus, "big")
	n := 0
	for _, b := range got {
		n += len(b)
		if len(b) > 4 {
			t.Fatalf("a batch of %d one-MiB records", len(b))
		}
	}
	if n != 8 || len(got) < 2 {
		t.Fatalf("%d records in %d batches", n, len(got))
	}
}
