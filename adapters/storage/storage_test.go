package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/publish"
	"sluice.dev/adapters/s3conf"
	"sluice.dev/adapters/storage"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

const fn = "on-upload"

type rig struct {
	t     testing.TB
	bus   *bustest.Bus
	minio *minioServer
	kv    jetstream.KeyValue
	pub   *publish.Bus
}

func newRig(t testing.TB) *rig {
	t.Helper()
	m := startMinio(t)
	b := bustest.Start(t)
	kv, err := b.JS.KeyValue(context.Background(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, bus: b, minio: m, kv: kv, pub: publish.New(b.JS)}
}

func (r *rig) spec(id string, s events.StorageSpec) events.Trigger {
	return events.Trigger{ID: id, Function: fn, Kind: events.TriggerStorage, Storage: &s, Created: time.Now()}
}

func (r *rig) config() storage.Config {
	return storage.Config{
		S3:    s3conf.Config{Endpoint: r.minio.Endpoint, AccessKey: r.minio.AccessKey, SecretKey: r.minio.SecretKey},
		State: r.kv, Poll: 50 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
	}
}

// running is an adapter run in the background with the states it reported.
type running struct {
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	states []events.TriggerStatus
}

func (r *rig) run(spec events.Trigger) *running {
	r.t.Helper()
	return r.runWith(spec, r.config())
}

func (r *rig) runWith(spec events.Trigger, c storage.Config) *running {
	r.t.Helper()
	a, err := storage.NewFactory(c)(spec)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cancel: cancel, done: make(chan error, 1)}
	go func() {
		run.done <- a.Run(ctx, r.pub, func(s events.TriggerStatus) {
			run.mu.Lock()
			defer run.mu.Unlock()
			run.states = append(run.states, s)
		})
	}()
	r.t.Cleanup(run.stop)
	return run
}

func (run *running) stop() {
	run.cancel()
	if err := <-run.done; err != nil {
		panic(fmt.Sprintf("Run returned %v", err))
	}
	run.done <- nil // for a second stop
}

func (run *running) last() events.TriggerStatus {
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.states) == 0 {
		return events.TriggerStatus{}
	}
	return run.states[len(run.states)-1]
}

func (run *running) waitState(t *testing.T, want events.TriggerState) events.TriggerStatus {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		if s := run.last(); s.State != want {
			return fmt.Errorf("state %q (%s), want %q", s.State, s.LastError, want)
		}
		return nil
	})
	return run.last()
}

// stored returns the invocation events of fn in SLUICE_INVOKE, oldest first.
func (r *rig) stored() []event.Event {
	r.t.Helper()
	var out []event.Event
	for _, m := range bustest.Messages(r.t, r.bus.JS, events.StreamInvoke) {
		if events.SubjectFunction(m.Subject) != fn {
			continue
		}
		ev, err := events.ParseHeaders(m.Header, m.Data)
		if err != nil {
			r.t.Fatal(err)
		}
		if m.Subject != events.SubjectOf(fn, ev) {
			r.t.Fatalf("event %s stored on %s", ev.ID(), m.Subject)
		}
		out = append(out, ev)
	}
	return out
}

// waitEvents waits for exactly n events, and checks no more come within a short while.
func (r *rig) waitEvents(n int) []event.Event {
	r.t.Helper()
	testkit.Eventually(r.t, 30*time.Second, func() error {
		if got := len(r.stored()); got < n {
			return fmt.Errorf("%d events, want %d", got, n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // a sleep, not a poll: no more events may come within several listings
	evs := r.stored()
	if len(evs) != n {
		r.t.Fatalf("%d events, want exactly %d: %v", len(evs), n, subjects(evs))
	}
	return evs
}

func subjects(evs []event.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type()+" "+e.Subject())
	}
	return s
}

func TestUploadPublishesOneS3Event(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "photos")
	r.minio.put(t, "photos", "before.txt", "there before the trigger")
	before := r.minio.modified(t, "photos", "before.txt")
	testkit.Eventually(t, 5*time.Second, func() error { // the trigger is created after the object
		if now := time.Now(); !now.After(before) {
			return fmt.Errorf("now %s, object modified %s", now, before)
		}
		return nil
	})
	run := r.run(r.spec("t1", events.StorageSpec{Bucket: "photos"}))
	run.waitState(t, events.StateRunning)
	info := r.minio.put(t, "photos", "dir/a b.jpg", "hello")

	ev := r.waitEvents(1)[0]
	if ev.Type() != "com.amazonaws.s3.ObjectCreated:Put" || ev.Subject() != "dir/a b.jpg" || ev.Source() != "/sluice/storage/photos" {
		t.Fatalf("event %s %s %s", ev.Type(), ev.Source(), ev.Subject())
	}
	var n storage.Notification // AWS's form, as Lambda handlers read it
	if err := json.Unmarshal(ev.Data(), &n); err != nil || len(n.Records) != 1 {
		t.Fatalf("data %s: %v", ev.Data(), err)
	}
	rec := n.Records[0]
	o := rec.S3.Object
	if rec.EventSource != "aws:s3" || rec.EventName != "ObjectCreated:Put" || rec.S3.Bucket.Name != "photos" ||
		o.Key != "dir%2Fa+b.jpg" || o.Size != 5 || o.ETag != info.ETag || o.Sequencer == "" || rec.EventTime == "" {
		t.Fatalf("record %s", ev.Data())
	}
	if s := run.last(); s.Events != 1 || s.LastEvent.IsZero() {
		t.Fatalf("status %+v", s)
	}
}

func TestFiltersAndSingleRecord(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "inbox")
	r.run(r.spec("t1", events.StorageSpec{Bucket: "inbox", Prefix: "in/", Suffix: ".csv", SingleRecord: true})).
		waitState(t, events.StateRunning)
	r.minio.put(t, "inbox", "in/a.txt", "x")
	r.minio.put(t, "inbox", "out/b.csv", "x")
	r.minio.put(t, "inbox", "in/c.csv", "x")

	ev := r.waitEvents(1)[0]
	if ev.Subject() != "in/c.csv" {
		t.Fatalf("subject %q", ev.Subject())
	}
	var rec storage.Record // the CloudEvents S3 adapter's data: the record alone
	if err := json.Unmarshal(ev.Data(), &rec); err != nil || rec.S3.Object.Key != "in%2Fc.csv" || rec.EventName != "ObjectCreated:Put" {
		t.Fatalf("single-record data %s: %v", ev.Data(), err)
	}
}

func TestDeleteOnlyTriggerIgnoresUploads(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "gone")
	r.run(r.spec("t1", events.StorageSpec{Bucket: "gone", Events: []string{storage.EventDelete}})).
		waitState(t, events.StateRunning)
	r.minio.put(t, "gone", "a", "x")
	r.waitEvents(0)
}

// Stop the adapter, upload three objects, start it again: exactly those three, once.
func TestCatchUpAfterRestart(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "docs")
	spec := r.spec("t1", events.StorageSpec{Bucket: "docs"})
	run := r.run(spec)
	run.waitState(t, events.StateRunning)
	r.minio.put(t, "docs", "first", "1")
	r.waitEvents(1)
	run.stop()

	for _, k := range []string{"x", "y", "z"} {
		r.minio.put(t, "docs", k, k)
	}
	r.waitEvents(1) // nothing while stopped

	// Two processes at once overlap completely; the ids keep it to one event per object.
	r.run(spec).waitState(t, events.StateRunning)
	r.run(spec)
	evs := r.waitEvents(4)
	got := map[string]int{}
	for _, e := range evs[1:] {
		got[e.Subject()]++
	}
	if got["x"] != 1 || got["y"] != 1 || got["z"] != 1 {
		t.Fatalf("after restart %v", subjects(evs))
	}
}

func TestStoreDownThenBack(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "flaky")
	run := r.run(r.spec("t1", events.StorageSpec{Bucket: "flaky"}))
	run.waitState(t, events.StateRunning)

	r.minio.Stop()
	if s := run.waitState(t, events.StateRetrying); s.LastError == "" {
		t.Fatalf("retrying without an error: %+v", s)
	}
	r.minio.Start()
	run.waitState(t, events.StateRunning)
	r.minio.put(t, "flaky", "after", "x")
	if ev := r.waitEvents(1)[0]; ev.Subject() != "after" {
		t.Fatalf("subject %q", ev.Subject())
	}
}

func TestFactoryValidates(t *testing.T) {
	f := storage.NewFactory(storage.Config{S3: s3conf.Config{Endpoint: "127.0.0.1:9000"}, State: nil})
	bad := []events.StorageSpec{
		{Bucket: ""},
		{Bucket: "Upper_Case"},
		{Bucket: "ok-bucket", Events: []string{"create"}},
		{Bucket: "ok-bucket", Prefix: "a\nb"},
		{Bucket: "ok-bucket", Endpoint: "h:1", AccessKey: "only-key"},
		{Bucket: "ok-bucket", Endpoint: "ftp://h:1"},
	}
	for _, s := range bad {
		spec := events.Trigger{ID: "t", Function: fn, Kind: events.TriggerStorage, Storage: &s}
		if _, err := f(spec); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%+v: %v, want ErrInvalidTrigger", s, err)
		}
	}
	spec := events.Trigger{ID: "t", Function: fn, Kind: events.TriggerStorage, Storage: &events.StorageSpec{Bucket: "b-1"}}
	if _, err := storage.NewFactory(storage.Config{})(spec); !errors.Is(err, storage.ErrNoConnection) {
		t.Errorf("no connection: %v", err)
	}
}

// With a batch, live uploads and those a listing finds come as AWS's {"Records": [...]} of up
// to the batch's size, each record with the id its event has alone.
func TestBucketBatches(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "many")
	spec := r.spec("t1", events.StorageSpec{Bucket: "many",
		Batching: &events.Batch{Size: 10, Window: events.Duration(time.Second), ReportItemFailures: true}})
	run := r.run(spec)
	run.waitDetail(t, "live notifications; listing reconciles")
	for i := range 5 {
		r.minio.put(t, "many", fmt.Sprint("live-", i), "x")
	}
	records := func(evs []event.Event) map[string]bool {
		keys := map[string]bool{}
		for _, ev := range evs {
			var n storage.Notification
			if err := json.Unmarshal(ev.Data(), &n); err != nil || len(n.Records) == 0 || len(n.Records) > 10 ||
				ev.Type() != storage.TypeBatch || ev.Extensions()[events.ExtBatch] != events.BatchReport {
				t.Fatalf("batch %s: %v", ev, err)
			}
			for _, rec := range n.Records {
				if !strings.HasPrefix(rec.MessageID, "s3-") || keys[rec.S3.Object.Key] {
					t.Fatalf("record %+v", rec)
				}
				keys[rec.S3.Object.Key] = true
			}
		}
		return keys
	}
	if keys := records(r.waitEvents(1)); len(keys) != 5 {
		t.Fatalf("live batch of %v", keys)
	}
	run.stop()
	for i := range 25 {
		r.minio.put(t, "many", fmt.Sprint("listed-", i), "x")
	}
	r.run(spec)
	if keys := records(r.waitEvents(4)); len(keys) != 30 { // the live batch, then 25 in three
		t.Fatalf("%d objects in batches", len(keys))
	}
}

// With an order key, each object's events carry its key, so changes to one object run in order.
func TestObjectKeyOrders(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "ordered")
	r.run(r.spec("t1", events.StorageSpec{Bucket: "ordered", OrderKey: "object-key"})).waitState(t, events.StateRunning)
	r.minio.put(t, "ordered", "a/b.txt", "1")
	if ev := r.waitEvents(1)[0]; events.OrderKey(ev) != "a/b.txt" {
		t.Fatalf("order key %q", events.OrderKey(ev))
	}
	for _, bad := range []events.StorageSpec{
		{Bucket: "ordered", OrderKey: "header:x"},
		{Bucket: "ordered", OrderKey: "object-key", Batching: &events.Batch{Size: 2}},
	} {
		if _, err := storage.NewFactory(r.config())(r.spec("t2", bad)); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// An adapter that stops while a batch is filling publishes it first: a delete in it would be
// lost otherwise, as no listing finds deletes.
func TestAHeldBatchIsPublishedOnStop(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "held")
	r.minio.put(t, "held", "k", "x")
	run := r.run(r.spec("t1", events.StorageSpec{Bucket: "held", Events: []string{storage.EventDelete},
		Batching: &events.Batch{Size: 100, Window: events.Duration(time.Minute)}}))
	run.waitDetail(t, "live notifications; listing reconciles")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.minio.client.RemoveObject(ctx, "held", "k", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the delete reaches the adapter, which holds it for its batch
	if n := len(r.stored()); n != 0 {
		t.Fatalf("%d events before the window passed", n)
	}
	run.stop()
	if evs := r.waitEvents(1); !strings.Contains(string(evs[0].Data()), "ObjectRemoved:Delete") {
		t.Fatalf("event %s", evs[0])
	}
}

// An object key with line breaks (S3 allows them) becomes an event whose subject is the key
// URL-encoded: an uploader cannot write headers of the bus's message through it, and the
// trigger goes on.
func TestAKeyWithLineBreaksIsAnEvent(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "odd")
	r.run(r.spec("t1", events.StorageSpec{Bucket: "odd", OrderKey: "object-key"})).waitState(t, events.StateRunning)
	evil := "a\r\nSluice-Reply: _INBOX.evil\nb"
	r.minio.put(t, "odd", evil, "x")
	r.minio.put(t, "odd", "after", "x")
	evs := r.waitEvents(2)
	if evs[0].Subject() != url.QueryEscape(evil) || strings.ContainsAny(events.OrderKey(evs[0]), "\r\n") {
		t.Fatalf("subject %q, order key %q", evs[0].Subject(), events.OrderKey(evs[0]))
	}
	for _, m := range bustest.Messages(t, r.bus.JS, events.StreamInvoke) {
		if m.Header.Get(events.HeaderReply) != "" {
			t.Fatalf("a header written through an object key: %v", m.Header)
		}
	}
	if evs[1].Subject() != "after" {
		t.Fatalf("second event %q", evs[1].Subject())
	}
}
