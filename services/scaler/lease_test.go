package scaler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
	"sluice.dev/services/scaler"
)

const claimTTL = time.Second

// running is a scaler in its own goroutine on its own connection, as in its own process.
type running struct {
	id     string
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

func startScaler(t *testing.T, bus *bustest.Bus, id string) *running {
	t.Helper()
	nc, err := nats.Connect(bus.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	fns := openFns(t, js)
	s, err := scaler.New(context.Background(), scaler.Options{JS: js, Fns: fns, ID: id, Every: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{id: id, nc: nc, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("scaler %s: %v", r.id, err)
		}
		r.done <- nil // later stops return at once
	case <-time.After(5 * time.Second):
		t.Errorf("scaler %s did not stop", r.id)
	}
}

// crash stops a scaler the way a killed process does: its connection goes, nothing is given up.
func (r *running) crash(t *testing.T) {
	t.Helper()
	r.nc.Close()
	r.stop(t)
}

func holder(bus *bustest.Bus) (string, error) {
	claims, err := bus.JS.KeyValue(context.Background(), events.BucketClaims)
	if err != nil {
		return "", err
	}
	e, err := claims.Get(context.Background(), events.ScalerLeaseKey)
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// waitDecidedBy waits until the function's decision has the given lag and was written by id.
func waitDecidedBy(t *testing.T, bus *bustest.Bus, fn string, lag int, id string, within time.Duration) {
	t.Helper()
	scale, _ := bus.JS.KeyValue(context.Background(), events.BucketScale)
	testkit.Eventually(t, within, func() error {
		d, err := events.ReadScaleDecision(context.Background(), scale, fn)
		if err != nil {
			return err
		}
		if d.Lag != lag || d.By != id {
			return fmt.Errorf("decision %+v, want lag %d by %s", d, lag, id)
		}
		return nil
	})
}

func TestLeaseOneScalerActsAndADeadOnesLeaseExpires(t *testing.T) {
	bus := bustest.StartWith(t, events.BusOptions{ClaimTTL: claimTTL})
	deploy(t, bus.JS, "f", events.Config{Max: 10, Concurrency: 1, IdleTimeout: events.Duration(time.Minute)})
	a := startScaler(t, bus, "a")
	testkit.Eventually(t, 2*time.Second, func() error {
		h, err := holder(bus)
		if err == nil && h != "a" {
			return fmt.Errorf("holder %q, want a", h)
		}
		return err
	})
	b := startScaler(t, bus, "b")
	publish(t, bus.JS, "f", 1)
	waitDecidedBy(t, bus, "f", 1, "a", 2*time.Second)

	// Across several refreshes, b stays passive: every decision is a's.
	for n := 2; n <= 4; n++ {
		time.Sleep(claimTTL / 2) // a sleep, not a poll: a's lease is refreshed in between, b must stay passive
		publish(t, bus.JS, "f", 1)
		waitDecidedBy(t, bus, "f", n, "a", 2*time.Second)
	}

	crashed := time.Now()
	a.crash(t)
	publish(t, bus.JS, "f", 1)
	waitDecidedBy(t, bus, "f", 5, "b", claimTTL+3*time.Second)
	took := time.Since(crashed)
	if h, err := holder(bus); err != nil || h != "b" {
		t.Fatalf("holder after the crash = %q, %v; want b", h, err)
	}
	t.Logf("lease taken over %s after the holder crashed (TTL %s)", took.Round(time.Millisecond), claimTTL)

	// A graceful stop gives the lease up at once: a new scaler takes it well inside the TTL.
	c := startScaler(t, bus, "c")
	stopped := time.Now()
	b.stop(t)
	testkit.Eventually(t, claimTTL/2, func() error {
		h, err := holder(bus)
		if err == nil && h != "c" {
			return fmt.Errorf("holder %q, want c", h)
		}
		return err
	})
	t.Logf("lease passed %s after a graceful stop", time.Since(stopped).Round(time.Millisecond))
	c.stop(t)
	if _, err := holder(bus); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("lease after the last scaler stopped: %v, want none", err)
	}
}
