package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// acks is a delivery that records how it was acknowledged.
type acks struct {
	jetstream.Msg // not called: every method a delivery uses is below
	m             *nats.Msg

	mu    sync.Mutex
	calls []string
}

func (a *acks) record(what string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, what)
	return nil
}

func (a *acks) acknowledged() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func (a *acks) Headers() nats.Header { return a.m.Header }
func (a *acks) Data() []byte         { return a.m.Data }
func (a *acks) Subject() string      { return a.m.Subject }
func (a *acks) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: 1, Timestamp: time.Now(), Sequence: jetstream.SequencePair{Stream: 1}}, nil
}
func (a *acks) Ack() error                       { return a.record("ack") }
func (a *acks) DoubleAck(context.Context) error  { return a.record("double-ack") }
func (a *acks) Nak() error                       { return a.record("nak") }
func (a *acks) NakWithDelay(time.Duration) error { return a.record("nak") }
func (a *acks) Term() error                      { return a.record("term") }
func (a *acks) TermWithReason(string) error      { return a.record("term") }
func (a *acks) InProgress() error                { return nil } // a heartbeat, not an acknowledgement

// oneVersion is a deployment of one function with one version.
type oneVersion struct{ v events.Version }

func (f oneVersion) Functions() []events.Function { return nil }
func (f oneVersion) Changed() <-chan struct{}     { return nil }
func (f oneVersion) Version(_ context.Context, name string, n int) (events.Version, error) {
	if name != f.v.Function || n != f.v.Version {
		return events.Version{}, errors.New("no such version")
	}
	return f.v, nil
}
func (f oneVersion) Resolve(ctx context.Context, name, _ string) (events.Version, error) {
	return f.Version(ctx, name, f.v.Version)
}

// Every way a delivery ends before its run is acknowledged exactly once, as finish maps it: a
// malformed event and one naming no version are dead-lettered and terminated, an expired
// synchronous call is terminated, a recorded success is acknowledged without a run, and an event
// with no instance slot to be had goes back to the consumer.
func TestEarlyOutcomesAreAcknowledgedOnce(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	results, err := bus.JS.KeyValue(ctx, events.BucketResults)
	if err != nil {
		t.Fatal(err)
	}
	claimsKV, err := bus.JS.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	v := events.Version{Function: "f", Version: 1, Config: events.Config{Runtime: "python", Handler: "main.handler", MemoryMB: 128, Max: 1}}
	logger := slog.New(slog.DiscardHandler)
	w := &Worker{
		nc: bus.Conn, js: bus.JS, fns: oneVersion{v}, backoff: Backoff, logger: logger,
		records: &records{results: results, logger: logger},
		instances: &instances{ // a memory budget no instance fits: no slot to be had here
			claims: &claims{kv: claimsKV, id: "w", budget: 0, logger: logger, held: map[string]claim{}},
			logger: logger,
		},
	}
	newEvent := func(id string, version int, ext map[string]string) *nats.Msg {
		ev := event.New()
		ev.SetID(id)
		ev.SetSource("test")
		ev.SetType("dev.sluice.invoke")
		ev.SetExtension(events.ExtVersion, strconv.Itoa(version))
		for k, x := range ext {
			ev.SetExtension(k, x)
		}
		m, err := events.NewMsg(events.InvokeSubject("f"), ev)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	record, _ := json.Marshal(events.Result{ID: "done", Function: "f", Status: events.StatusSucceeded, Outcome: events.OutcomeOK})
	if _, err := results.Put(ctx, events.ResultKey("done"), record); err != nil {
		t.Fatal(err)
	}
	past := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	expired := newEvent("late", 1, map[string]string{events.ExtDeadline: past})
	expired.Header.Set(events.HeaderReply, "_INBOX.nobody")
	for _, c := range []struct {
		name string
		msg  *nats.Msg
		want string
	}{
		{"malformed", &nats.Msg{Subject: events.InvokeSubject("f"), Header: nats.Header{}, Data: []byte("no cloudevent headers")}, "term"},
		{"unknown version", newEvent("nowhere", 7, nil), "term"},
		{"expired", expired, "term"},
		{"recorded", newEvent("done", 1, nil), "ack"},
		{"no slot", newEvent("crowded", 1, nil), "nak"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := &acks{m: c.msg}
			released := 0
			w.handle(ctx, newPool(v), msg, func() { released++ })
			if got := msg.acknowledged(); len(got) != 1 || got[0] != c.want {
				t.Fatalf("acknowledged %v, want one %s", got, c.want)
			}
			if c.name == "no slot" && released != 1 {
				t.Fatalf("room released %d times, want once", released)
			}
		})
	}
	if n := w.Duplicates()["f"]; n != 1 {
		t.Fatalf("%d duplicates counted, want 1", n)
	}
	dlq, err := bus.JS.Stream(ctx, events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d dead letters, want 2 (the malformed event, the one naming no version)", info.State.Msgs)
	}
}
