package cron_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/cron"
	"sluice.dev/adapters/publish"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

func spec(id, expr string) events.Trigger {
	return events.Trigger{ID: id, Function: "job", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: expr}}
}

func TestBadSpecsRefused(t *testing.T) {
	for name, s := range map[string]events.Trigger{
		"garbage":     spec("a", "every minute"),
		"range":       spec("a", "0 61 * * * *"),
		"seven":       spec("a", "0 0 0 1 1 1 2030"),
		"every short": spec("a", "@every 10ms"),
		"zone":        {ID: "a", Function: "job", Kind: "cron", Cron: &events.CronSpec{Expr: "@hourly", TZ: "Mars/Olympus"}},
		"data":        {ID: "a", Function: "job", Kind: "cron", Cron: &events.CronSpec{Expr: "@hourly", Data: []byte("{nope")}},
	} {
		if _, err := cron.New(s); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%s: %v, want ErrInvalidTrigger", name, err)
		}
	}
	for _, expr := range []string{"*/5 * * * *", "*/10 * * * * *", "@hourly", "@every 10s", "0 30 9 * * MON-FRI"} {
		if _, err := cron.New(spec("a", expr)); err != nil {
			t.Errorf("%q: %v", expr, err)
		}
	}
}

func TestEventIsDeterministic(t *testing.T) {
	s := spec("nightly", "@daily")
	s.Cron.Data = []byte(`{"report":"daily"}`)
	a, err := cron.New(s)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	ev1, err := a.(*cron.Adapter).Event(at)
	if err != nil {
		t.Fatal(err)
	}
	ev2, _ := a.(*cron.Adapter).Event(at)
	if ev1.ID() != ev2.ID() || ev1.ID() != cron.EventID("nightly", at) || ev1.ID() == cron.EventID("nightly", at.Add(time.Second)) {
		t.Fatalf("ids %s %s", ev1.ID(), ev2.ID())
	}
	if ev1.Type() != events.TypeCronTick || ev1.Source() != "/sluice/cron/nightly" || !ev1.Time().Equal(at) || string(ev1.Data()) != `{"report":"daily"}` || events.EventTrigger(ev1) != "cron" {
		t.Fatalf("event %s", ev1)
	}
}

// TestTwoAdaptersStoreEachTickOnce runs two adapters of one trigger against the real bus: every
// scheduled second is stored once, with the deterministic id.
func TestTwoAdaptersStoreEachTickOnce(t *testing.T) {
	bus := bustest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	pub := publish.New(bus.JS)
	var wg sync.WaitGroup
	for range 2 {
		a, err := cron.New(spec("tick", "@every 1s"))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = a.Run(ctx, pub, func(events.TriggerStatus) {}) })
	}
	stream, err := bus.JS.Stream(t.Context(), events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		info, err := stream.Info(t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs < 3 {
			return fmt.Errorf("%d events stored", info.State.Msgs)
		}
		return nil
	})
	cancel()
	wg.Wait()
	info, _ := stream.Info(t.Context())
	seen := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.ParseHeaders(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ev.ID()] {
			t.Fatalf("tick %s stored twice", ev.Time())
		}
		seen[ev.ID()] = true
		if ev.ID() != cron.EventID("tick", ev.Time()) || m.Header.Get(nats.MsgIdHdr) != ev.ID() {
			t.Fatalf("event id %s is not the tick's id", ev.ID())
		}
		if ev.Time().Nanosecond() != 0 {
			t.Fatalf("time %s is not the scheduled second", ev.Time())
		}
	}
	if len(seen) != int(info.State.Msgs) {
		t.Fatalf("%d distinct of %d", len(seen), info.State.Msgs)
	}
}

type recorder struct {
	mu  sync.Mutex
	evs []event.Event
}

func (r *recorder) Publish(_ context.Context, _ string, ev event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return nil
}

func (r *recorder) first() (event.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.evs) == 0 {
		return event.Event{}, false
	}
	return r.evs[0], true
}

// TestCatchUpFiresOnceForTheLatestMissedTime: the hourly trigger last fired three hours ago;
// starting with CatchUp fires at once for the last full hour, without catch-up it waits.
func TestCatchUpFiresOnceForTheLatestMissedTime(t *testing.T) {
	bus := bustest.Start(t)
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	last := now.Truncate(time.Hour).Add(-3 * time.Hour)
	if _, err := kv.Put(t.Context(), cron.MemoryKey("hourly"), []byte(last.Format(time.RFC3339Nano))); err != nil {
		t.Fatal(err)
	}
	s := spec("hourly", "@hourly")
	s.Cron.CatchUp = true
	a, err := cron.Factory(kv)(s)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx, rec, func(events.TriggerStatus) {}) }()
	testkit.Eventually(t, 5*time.Second, func() error {
		if _, ok := rec.first(); !ok {
			return errors.New("no catch-up firing")
		}
		return nil
	})
	cancel()
	<-done
	ev, _ := rec.first()
	if want := now.Truncate(time.Hour); !ev.Time().Equal(want) || len(rec.evs) != 1 {
		t.Fatalf("caught up %s (%d events), want once for %s", ev.Time(), len(rec.evs), want)
	}
	e, err := kv.Get(t.Context(), cron.MemoryKey("hourly"))
	if err != nil || string(e.Value()) != now.Truncate(time.Hour).Format(time.RFC3339Nano) {
		t.Fatalf("last fired time remembered: %v %s", err, e.Value())
	}

	// Without CatchUp nothing fires before the next hour.
	s.Cron.CatchUp = false
	a, _ = cron.Factory(kv)(s)
	rec = &recorder{}
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_ = a.Run(ctx, rec, func(events.TriggerStatus) {})
	if len(rec.evs) != 0 {
		t.Fatalf("skip policy fired %d times", len(rec.evs))
	}
}
