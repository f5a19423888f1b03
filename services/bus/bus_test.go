package bus

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"sluice.dev/events"
)

func TestEmbeddedRestartKeepsCredentialsPortAndData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, secretsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode: %v %v", fi, err)
	}
	e, err := StartEmbedded(EmbeddedOptions{DataDir: dir}, &s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(ctx, e.URL(), "test", events.BusOptions{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := c.JS.KeyValue(ctx, events.BucketFunctions)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "kept", []byte("yes")); err != nil {
		t.Fatal(err)
	}
	firstURL := e.URL()
	c.Close()
	e.Shutdown()

	s2, err := LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2 != s {
		t.Fatalf("secrets changed across restart: %+v vs %+v", s2, s)
	}
	e2, err := StartEmbedded(EmbeddedOptions{DataDir: dir}, &s2)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown()
	if e2.URL() != firstURL {
		t.Fatalf("url changed across restart: %s vs %s", e2.URL(), firstURL)
	}
	c2, err := Connect(ctx, e2.URL(), "test", events.BusOptions{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	kv2, _ := c2.JS.KeyValue(ctx, events.BucketFunctions)
	got, err := kv2.Get(ctx, "kept")
	if err != nil || string(got.Value()) != "yes" {
		t.Fatalf("value after restart: %v %v", got, err)
	}
}

func TestEmbeddedRefusesWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	s, _ := LoadSecrets(dir)
	e, err := StartEmbedded(EmbeddedOptions{DataDir: dir}, &s)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	bare := "nats://127.0.0.1:" + strconv.Itoa(s.NATSPort)
	if c, err := Connect(context.Background(), bare, "intruder", events.BusOptions{}, slog.Default()); err == nil {
		c.Close()
		t.Fatal("connected without credentials")
	}
}
