package queue_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"

	"sluice.dev/adapters/publish"
	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// statuses records what an adapter reported. Safe for concurrent use.
type statuses struct {
	mu  sync.Mutex
	all []events.TriggerStatus
}

func (s *statuses) report(st events.TriggerStatus) {
	s.mu.Lock()
	s.all = append(s.all, st)
	s.mu.Unlock()
}

func (s *statuses) last() events.TriggerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return events.TriggerStatus{}
	}
	return s.all[len(s.all)-1]
}

// waitState waits until the last reported state is want.
func (s *statuses) waitState(t *testing.T, timeout time.Duration, want events.TriggerState) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		if st := s.last(); st.State != want {
			return fmt.Errorf("state %q (last error %q), want %q", st.State, st.LastError, want)
		}
		return nil
	})
}

// startAdapter runs a queue trigger for function fn into bus until the test ends.
func startAdapter(t testing.TB, bus *bustest.Bus, id, fn string, q events.QueueSpec) *statuses {
	t.Helper()
	a, err := queue.New(events.Trigger{ID: id, Function: fn, Kind: events.TriggerQueue, Queue: &q})
	if err != nil {
		t.Fatal(err)
	}
	st := &statuses{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, publish.New(bus.JS), st.report) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("adapter did not stop within 15s")
		}
	})
	return st
}

// stored returns the events stored in SLUICE_INVOKE for fn, failing on a doubled id.
func stored(t *testing.T, bus *bustest.Bus, fn string) []event.Event {
	t.Helper()
	var out []event.Event
	seen := map[string]bool{}
	for _, raw := range bustest.Messages(t, bus.JS, events.StreamInvoke) {
		if events.SubjectFunction(raw.Subject) != fn {
			continue
		}
		ev, err := events.ParseHeaders(raw.Header, raw.Data)
		if err != nil {
			t.Fatalf("stored event %d: %v", raw.Sequence, err)
		}
		if raw.Subject != events.SubjectOf(fn, ev) {
			t.Fatalf("event %s stored on %s", ev.ID(), raw.Subject)
		}
		if seen[ev.ID()] {
			t.Fatalf("event %s stored twice", ev.ID())
		}
		seen[ev.ID()] = true
		out = append(out, ev)
	}
	return out
}

// waitStored waits until exactly n events are stored for fn, then checks they stay n.
func waitStored(t *testing.T, bus *bustest.Bus, fn string, n int) []event.Event {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := len(stored(t, bus, fn)); got != n {
			return fmt.Errorf("%d events stored, want %d", got, n)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // a sleep, not a poll: nothing may be stored twice afterwards either
	evs := stored(t, bus, fn)
	if len(evs) != n {
		t.Fatalf("%d events stored, want %d", len(evs), n)
	}
	return evs
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// broker is an external NATS server that a test can stop and start again on the same port and
// store, as a broker going away and coming back.
type broker struct {
	t    *testing.T
	port int
	dir  string
	srv  *server.Server
}

func newBroker(t *testing.T) *broker {
	b := &broker{t: t, port: freePort(t), dir: t.TempDir()}
	t.Cleanup(b.stop)
	return b
}

func (b *broker) url() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

func (b *broker) start() {
	b.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: b.port, JetStream: true, StoreDir: b.dir,
		NoLog: true, NoSigs: true, MaxPayload: events.MaxPayload + 64<<10})
	if err != nil {
		b.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.t.Fatal("broker not ready")
	}
	b.srv = srv
}

func (b *broker) stop() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.srv = nil
	}
}
