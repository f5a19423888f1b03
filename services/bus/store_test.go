package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"sluice.dev/events"
)

func TestSizeStore(t *testing.T) {
	dir := t.TempDir()
	s, err := SizeStore(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Given || s.Free <= 0 || s.Max != (s.Free+s.InStore)/StoreFraction {
		t.Fatalf("measured: %+v", s)
	}
	if s, err := SizeStore(dir, 64<<20); err != nil || !s.Given || s.Max != 64<<20 {
		t.Fatalf("given 64 MiB: %+v %v", s, err)
	}
	if _, err := SizeStore(dir, events.MinStore-1); !errors.Is(err, ErrStoreTooSmall) {
		t.Fatalf("given under the minimum: %v", err)
	}
}

// A store whose streams reserve more than this start's store (an earlier, unsized start) is
// brought down to its shares, and the next start fits in the store alone.
func TestEmbeddedStoreShrinksAnOldBus(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secrets, err := LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := func(maxStore int64, o events.BusOptions) error {
		e, err := StartEmbedded(EmbeddedOptions{DataDir: dir, MaxStore: maxStore}, &secrets)
		if err != nil {
			return err
		}
		defer e.Shutdown()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := Connect(cctx, e.URL(), "test", o, log, e.InProcess())
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}
	if err := start(0, events.BusOptions{}); err != nil { // logs 1 GiB and meters 10 GiB
		t.Fatal(err)
	}
	const store = 64 << 20
	size, err := SizeStore(dir, store)
	if err != nil {
		t.Fatal(err)
	}
	if size.Reserved < 11<<30 {
		t.Fatalf("the old bus reserves %d bytes: want its logs' and meters' 11 GiB", size.Reserved)
	}
	if err := start(max(size.Max, size.Reserved), events.BusOptions{Store: store}); err != nil {
		t.Fatalf("start with room for the old reservations: %v", err)
	}
	size, _ = SizeStore(dir, store)
	if size.Reserved > store {
		t.Fatalf("after a sized start the streams reserve %d bytes, more than the %d store", size.Reserved, store)
	}
	if err := start(max(size.Max, size.Reserved), events.BusOptions{Store: store}); err != nil {
		t.Fatalf("the next start: %v", err)
	}
	// A store the bus cannot be sized to is refused for good, not retried.
	if err := start(store, events.BusOptions{Store: events.MinStore - 1}); !errors.Is(err, ErrRejected) {
		t.Fatalf("a store under the minimum: %v, want ErrRejected", err)
	}
}
