package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func put(t *testing.T, bus *bustest.Bus, key string, v any) {
	t.Helper()
	kv, err := bus.JS.KeyValue(context.Background(), events.BucketFunctions)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if _, err := kv.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

func TestResolveFollowsTheBucket(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	put(t, bus, events.FunctionKey("pre"), events.Function{Name: "pre", Latest: 1})
	put(t, bus, events.VersionKey("pre", 1), events.Version{Function: "pre", Version: 1})

	d, err := Open(ctx, bus.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := d.Resolve(ctx, "pre", ""); err != nil || v.Version != 1 {
		t.Fatalf("existing function: %+v %v", v, err)
	}
	if len(d.Functions()) != 1 {
		t.Fatalf("Functions() = %v", d.Functions())
	}

	changed := d.Changed()
	put(t, bus, events.VersionKey("pre", 2), events.Version{Function: "pre", Version: 2})
	put(t, bus, events.FunctionKey("pre"), events.Function{Name: "pre", Latest: 2, Aliases: map[string]int{"stable": 1}})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled")
	}
	bustest.Eventually(t, 5*time.Second, func() error {
		v, err := d.Resolve(ctx, "pre", "latest")
		if err != nil || v.Version != 2 {
			return fmt.Errorf("latest = %d, %v", v.Version, err)
		}
		return nil
	})
	for q, want := range map[string]int{"1": 1, "2": 2, "stable": 1} {
		if v, err := d.Resolve(ctx, "pre", q); err != nil || v.Version != want {
			t.Errorf("Resolve(%q) = %d, %v; want %d", q, v.Version, err, want)
		}
	}
	for _, q := range []string{"nope", "7"} {
		if _, err := d.Resolve(ctx, "pre", q); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(%q) err = %v, want ErrNotFound", q, err)
		}
	}
	if _, err := d.Resolve(ctx, "missing", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing function err = %v", err)
	}
	if _, err := d.Resolve(ctx, "Bad.Name", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad name err = %v", err)
	}

	kv, _ := bus.JS.KeyValue(ctx, events.BucketFunctions)
	if err := kv.Delete(ctx, events.FunctionKey("pre")); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 5*time.Second, func() error {
		if n := len(d.Functions()); n != 0 {
			return fmt.Errorf("%d functions after delete", n)
		}
		return nil
	})
}
