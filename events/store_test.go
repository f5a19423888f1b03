package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

func TestStoreLimitsShareTheStore(t *testing.T) {
	for _, o := range []events.BusOptions{
		{Store: events.MinStore},
		{Store: 48 << 20},
		{Store: 100 << 30},
		{Store: 1 << 30, LogsMaxBytes: 300 << 20},
		{Store: 1 << 30, LogsMaxBytes: 100 << 20, MetersMaxBytes: 200 << 20},
	} {
		limits, err := o.StoreLimits()
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		var sum int64
		for name, n := range limits {
			if n <= 0 {
				t.Errorf("store %d: %s gets %d bytes", o.Store, name, n)
			}
			sum += n
		}
		if sum > o.Store {
			t.Errorf("store %d: the streams and buckets reserve %d bytes in all", o.Store, sum)
		}
		if o.LogsMaxBytes > 0 && limits[events.StreamLogs] != o.LogsMaxBytes {
			t.Errorf("store %d: logs get %d, want the %d set", o.Store, limits[events.StreamLogs], o.LogsMaxBytes)
		}
		if limits[events.StreamInvoke] < (o.Store-o.LogsMaxBytes-o.MetersMaxBytes)/4 {
			t.Errorf("store %d: the invocation queue gets only %d", o.Store, limits[events.StreamInvoke])
		}
	}
	big, _ := events.BusOptions{Store: 100 << 30}.StoreLimits()
	if big[events.StreamLogs] != events.DefaultLogsMaxBytes || big[events.StreamMeters] > events.DefaultMetersMaxBytes || big[events.StreamMeters] < events.DefaultMetersMaxBytes-1<<20 {
		t.Errorf("a large store gives logs %d and meters %d: want their default caps", big[events.StreamLogs], big[events.StreamMeters])
	}
	if l, _ := (events.BusOptions{}).StoreLimits(); l != nil {
		t.Errorf("no store: limits %v, want none", l)
	}
	for _, o := range []events.BusOptions{{Store: events.MinStore - 1}, {Store: 64 << 20, LogsMaxBytes: 40 << 20}} {
		if err := o.CheckStore(); !errors.Is(err, events.ErrStoreSize) {
			t.Errorf("%+v: CheckStore = %v, want ErrStoreSize", o, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512MiB": 512 << 20, "2G": 2 << 30, "1.5GiB": 3 << 29, "96 MB": 96 << 20, "7k": 7 << 10} {
		got, err := events.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1G", "12 parsecs", "1.2.3G"} {
		if _, err := events.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) passed", bad)
		}
	}
	if got := events.FormatSize(96 << 20); got != "96.0 MiB" {
		t.Errorf("FormatSize(96 MiB) = %q", got)
	}
}

// A server whose max store is the bus's Store takes the whole bus; a full invocation queue
// refuses new events with an error IsStoreFull knows, and keeps every event it took.
func TestStoreSizedBusRefusesWhenFull(t *testing.T) {
	const store = events.MinStore
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		JetStreamMaxStore: store, NoLog: true, NoSigs: true, MaxPayload: events.MaxPayload + 64<<10,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()

	// The bus as it was before sizing: logs and meters reserve more than the whole store.
	if err := events.Ensure(ctx, js, events.BusOptions{}); !events.IsStoreFull(err) {
		t.Fatalf("Ensure without a store on a %d-byte server: %v, want a store-full error", store, err)
	}
	o := events.BusOptions{Store: store}
	if err := events.Ensure(ctx, js, o); err != nil {
		t.Fatalf("Ensure with the store: %v", err)
	}
	limits, _ := o.StoreLimits()
	s, _ := js.Stream(ctx, events.StreamInvoke)
	if c := s.CachedInfo().Config; c.MaxBytes != limits[events.StreamInvoke] || c.Discard != jetstream.DiscardNew {
		t.Fatalf("SLUICE_INVOKE: max bytes %d discard %v, want %d and discard new", c.MaxBytes, c.Discard, limits[events.StreamInvoke])
	}
	payload := make([]byte, 1<<20)
	accepted := 0
	for i := 0; ; i++ {
		_, err := js.Publish(ctx, events.InvokeSubject("f"), payload)
		if err != nil {
			if !events.IsStoreFull(err) {
				t.Fatalf("publish %d: %v, want a store-full error", i, err)
			}
			break
		}
		accepted++
		if i > 100 {
			t.Fatal("the invocation queue took 100 MiB")
		}
	}
	info, _ := s.Info(ctx)
	if int(info.State.Msgs) != accepted || info.State.FirstSeq != 1 {
		t.Fatalf("queue holds %d events from seq %d; %d were accepted", info.State.Msgs, info.State.FirstSeq, accepted)
	}
	// Another process that does not size the bus keeps the sizes.
	if err := events.Ensure(ctx, js, events.BusOptions{}); err != nil {
		t.Fatal(err)
	}
	info, _ = s.Info(ctx)
	if info.Config.MaxBytes != limits[events.StreamInvoke] {
		t.Errorf("SLUICE_INVOKE max bytes after a plain Ensure: %d", info.Config.MaxBytes)
	}
	kv, _ := js.KeyValue(ctx, events.BucketResults)
	st, _ := kv.Status(ctx)
	if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.MaxBytes; got != limits[events.BucketResults] {
		t.Errorf("sluice_results max bytes after a plain Ensure: %d, want %d", got, limits[events.BucketResults])
	}
}
