// Package bustest starts a real embedded NATS server with JetStream for tests: random loopback
// port, file store in the test's temp dir, the whole sluice bus created, everything stopped when
// the test ends. It is the only way sluice's tests meet the bus; there are no mocks of it.
package bustest

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

// Bus is a running test server with a connection and the sluice streams, buckets and object store.
type Bus struct {
	Server *server.Server
	URL    string
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// Start runs an embedded JetStream server for the test and creates the sluice bus on it.
func Start(t testing.TB) *Bus {
	t.Helper()
	return StartWith(t, events.BusOptions{})
}

// StartWith is Start with the bus sized by o, e.g. a short ClaimTTL or WorkerTTL.
func StartWith(t testing.TB, o events.BusOptions) *Bus {
	t.Helper()
	srv := RunServer(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("bustest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("bustest: jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, o); err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return &Bus{Server: srv, URL: srv.ClientURL(), Conn: nc, JS: js}
}

// RunServer starts a bare embedded JetStream server (no sluice streams) and stops it at cleanup.
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: events.MaxPayload + 64<<10,
	})
	if err != nil {
		t.Fatalf("bustest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("bustest: server not ready within 10s")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// Stored counts the messages stream holds on subject (a wildcard counts every subject it
// matches), as the server reports them now.
func Stored(t testing.TB, js jetstream.JetStream, stream, subject string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// Messages returns every message stream holds now, oldest first (deleted ones left out).
func Messages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
