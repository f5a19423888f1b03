package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
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
	put(t, bus, events.FunctionKey("pre"), events.Function{Name: "pre", Latest: 2, Aliases: map[string]events.Alias{"stable": {Version: 1}}})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled")
	}
	testkit.Eventually(t, 5*time.Second, func() error {
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
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := len(d.Functions()); n != 0 {
			return fmt.Errorf("%d functions after delete", n)
		}
		return nil
	})
}

// TestWeightedAlias checks the split of a canary alias over many calls with a fixed random
// source: the share of the second version stays within a few standard deviations of its weight.
func TestWeightedAlias(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	for n := 1; n <= 4; n++ {
		put(t, bus, events.VersionKey("canary", n), events.Version{Function: "canary", Version: n})
	}
	put(t, bus, events.FunctionKey("canary"), events.Function{Name: "canary", Latest: 4, Aliases: map[string]events.Alias{
		"live": {Version: 3, Additional: &events.Weighted{Version: 4, Weight: 0.1}},
		"all":  {Version: 1, Additional: &events.Weighted{Version: 2, Weight: 0.999999}},
	}})
	d, err := Open(ctx, bus.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.draw = rand.New(rand.NewPCG(1, 2)).Float64

	const calls = 10000
	got := map[int]int{}
	for range calls {
		v, err := d.Resolve(ctx, "canary", "live")
		if err != nil {
			t.Fatal(err)
		}
		got[v.Version]++
	}
	if len(got) != 2 || got[3]+got[4] != calls {
		t.Fatalf("versions picked = %v, want only 3 and 4", got)
	}
	// Binomial(10000, 0.1): mean 1000, standard deviation 30; 5 deviations either side.
	if got[4] < 850 || got[4] > 1150 {
		t.Fatalf("version 4 ran %d of %d calls, want about 1000", got[4], calls)
	}
	for range 100 {
		if v, _ := d.Resolve(ctx, "canary", "all"); v.Version != 2 {
			t.Fatalf("a weight of 0.999999 picked version %d", v.Version)
		}
	}
}
