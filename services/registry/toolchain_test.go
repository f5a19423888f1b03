package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	rtcatalog "sluice.dev/runtimes/catalog"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/archive"
	"sluice.dev/services/registry"
)

// A deploy for a runtime whose toolchain this node lacks is refused, naming what to install.
func TestDeployRefusesARuntimeWithoutItsToolchain(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	cat := rtcatalog.New(rtcatalog.Options{
		Interpreters: map[string]string{"php": "/nonexistent/php"},
		CacheDir:     t.TempDir(),
	})
	defer cat.Close()
	reg, err := registry.New(bus.JS, cat, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	z, err := archive.FromFile("index.php", []byte("<?php\nfunction handler($event, $context) { return $event; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.PutCode(ctx, z)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Deploy(ctx, "nophp", events.Config{Runtime: "php", Handler: "index.handler"}, ref)
	if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "php-cli") {
		t.Fatalf("deploy without php: %v, want an invalid-deploy error naming php-cli", err)
	}
	if _, err := reg.Function(ctx, "nophp"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("a refused deploy left a function behind: %v", err)
	}
}
