package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sluice.dev/events"
	"sluice.dev/services/registry"
)

func TestAliases(t *testing.T) {
	reg, _, ref := setup(t)
	ctx := context.Background()
	for range 4 {
		if _, err := reg.Deploy(ctx, "fn", cfg(), ref); err != nil {
			t.Fatal(err)
		}
	}
	f, err := reg.SetAlias(ctx, "fn", "prod", events.Alias{Version: 2})
	if err != nil || f.Aliases["prod"].Version != 2 || f.Aliases["prod"].Updated.IsZero() {
		t.Fatalf("SetAlias = %+v, %v", f, err)
	}
	if v, err := reg.Resolve(ctx, "fn", "prod"); err != nil || v.Version != 2 {
		t.Fatalf("Resolve(prod) = %d, %v", v.Version, err)
	}
	canary := events.Alias{Version: 3, Additional: &events.Weighted{Version: 4, Weight: 0.25}}
	if _, err := reg.SetAlias(ctx, "fn", "live", canary); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 200 {
		v, err := reg.Resolve(ctx, "fn", "live")
		if err != nil {
			t.Fatal(err)
		}
		seen[v.Version] = true
	}
	if len(seen) != 2 || !seen[3] || !seen[4] {
		t.Fatalf("a 25%% canary over 200 calls ran versions %v", seen)
	}
	// Moving an alias replaces it.
	if f, err = reg.SetAlias(ctx, "fn", "prod", events.Alias{Version: 1}); err != nil || f.Aliases["prod"].Version != 1 {
		t.Fatalf("move = %+v, %v", f.Aliases, err)
	}

	bad := map[string]struct {
		alias string
		a     events.Alias
		want  string
	}{
		"digits":        {"12", events.Alias{Version: 1}, "alias name"},
		"latest":        {"latest", events.Alias{Version: 1}, "reserved"},
		"dot":           {"a.b", events.Alias{Version: 1}, "alias name"},
		"weight zero":   {"x", events.Alias{Version: 1, Additional: &events.Weighted{Version: 2}}, "weight 0"},
		"weight one":    {"x", events.Alias{Version: 1, Additional: &events.Weighted{Version: 2, Weight: 1}}, "weight 1"},
		"same versions": {"x", events.Alias{Version: 1, Additional: &events.Weighted{Version: 1, Weight: 0.5}}, "alias's own version"},
	}
	for name, tc := range bad {
		if _, err := reg.SetAlias(ctx, "fn", tc.alias, tc.a); !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid with %q", name, err, tc.want)
		}
	}
	if _, err := reg.SetAlias(ctx, "fn", "x", events.Alias{Version: 9}); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := reg.SetAlias(ctx, "fn", "x", events.Alias{Version: 1, Additional: &events.Weighted{Version: 9, Weight: 0.5}}); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown weighted version: %v", err)
	}
	if _, err := reg.SetAlias(ctx, "nope", "x", events.Alias{Version: 1}); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown function: %v", err)
	}

	if err := reg.DeleteAlias(ctx, "fn", "prod"); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteAlias(ctx, "fn", "prod"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second DeleteAlias = %v", err)
	}
	if _, err := reg.Resolve(ctx, "fn", "prod"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("deleted alias resolves: %v", err)
	}
}

func TestDeleteVersion(t *testing.T) {
	reg, _, ref := setup(t)
	ctx := context.Background()
	for range 4 {
		if _, err := reg.Deploy(ctx, "fn", cfg(), ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.SetAlias(ctx, "fn", "live", events.Alias{Version: 2, Additional: &events.Weighted{Version: 3, Weight: 0.1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetAlias(ctx, "fn", "beta", events.Alias{Version: 3}); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{2: "used by alias live", 3: "used by alias beta, live", 4: "is the latest"} {
		err := reg.DeleteVersion(ctx, "fn", n)
		if !errors.Is(err, registry.ErrInUse) || !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), want) {
			t.Errorf("DeleteVersion(%d) = %v, want ErrInUse with %q", n, err, want)
		}
	}
	if err := reg.DeleteVersion(ctx, "fn", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Version(ctx, "fn", 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("deleted version reads: %v", err)
	}
	if err := reg.DeleteVersion(ctx, "fn", 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second DeleteVersion = %v", err)
	}
	vs, err := reg.Versions(ctx, "fn")
	if err != nil || len(vs) != 3 || vs[0].Version != 2 {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	// A new deploy never reuses a number, even of a deleted version.
	if v, err := reg.Deploy(ctx, "fn", cfg(), ref); err != nil || v.Version != 5 {
		t.Fatalf("deploy after delete = %d, %v", v.Version, err)
	}
}
