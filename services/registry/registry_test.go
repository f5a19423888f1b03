package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/archive"
	"sluice.dev/services/registry"
)

func setup(t *testing.T) (*registry.Registry, *bustest.Bus, events.CodeRef) {
	t.Helper()
	bus := bustest.Start(t)
	reg, err := registry.New(bus.JS, runtimes(t), archive.Limits{MaxFiles: 5})
	if err != nil {
		t.Fatal(err)
	}
	z, err := archive.FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.PutCode(context.Background(), z)
	if err != nil {
		t.Fatal(err)
	}
	return reg, bus, ref
}

func cfg() events.Config {
	return events.Config{Runtime: "python", Handler: "main.handler", Retries: events.DefaultRetries}
}

func TestPutCode(t *testing.T) {
	reg, bus, ref := setup(t)
	ctx := context.Background()
	if len(ref.SHA256) != 64 || ref.Size == 0 {
		t.Fatalf("ref = %+v", ref)
	}
	z, _ := archive.FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	again, err := reg.PutCode(ctx, z)
	if err != nil || again != ref {
		t.Fatalf("second put = %+v, %v", again, err)
	}
	got, err := reg.Code(ctx, ref.SHA256)
	if err != nil || string(got) != string(z) {
		t.Fatalf("Code = %d bytes, %v", len(got), err)
	}
	if _, err := reg.PutCode(ctx, []byte("not a zip")); !errors.Is(err, archive.ErrNotZip) {
		t.Fatalf("bad archive: %v", err)
	}
	objs, _ := bus.JS.ObjectStore(ctx, events.ObjectCode)
	list, _ := objs.List(ctx)
	if len(list) != 1 {
		t.Fatalf("object store holds %d objects, want 1", len(list))
	}
	if _, err := reg.Code(ctx, strings.Repeat("a", 64)); !errors.Is(err, registry.ErrCodeNotFound) || !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
}

func TestDeployAndRead(t *testing.T) {
	reg, bus, ref := setup(t)
	ctx := context.Background()
	v1, err := reg.Deploy(ctx, "hello", cfg(), events.CodeRef{SHA256: ref.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v1.Code != ref || v1.Config.MemoryMB != events.DefaultMemoryMB ||
		v1.Config.Timeout.D() != events.DefaultTimeout || v1.Config.Max != events.DefaultMax ||
		v1.Config.Concurrency != 1 || v1.Config.IdleTimeout.D() != events.DefaultIdleTimeout || v1.Config.Retries != 2 {
		t.Fatalf("v1 = %+v", v1)
	}
	c := cfg()
	c.Retries, c.MemoryMB, c.Env = 0, 256, map[string]string{"GREETING": "hi"}
	v2, err := reg.Deploy(ctx, "hello", c, ref)
	if err != nil || v2.Version != 2 || v2.Config.Retries != 0 || v2.Config.MemoryMB != 256 {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	f, err := reg.Function(ctx, "hello")
	if err != nil || f.Latest != 2 || f.Created.After(f.Updated) {
		t.Fatalf("head = %+v, %v", f, err)
	}
	for q, want := range map[string]int{"": 2, "latest": 2, "1": 1, "2": 2} {
		v, err := reg.Resolve(ctx, "hello", q)
		if err != nil || v.Version != want {
			t.Errorf("Resolve(%q) = %d, %v; want %d", q, v.Version, err, want)
		}
	}
	for _, q := range []string{"3", "prod", "0"} {
		if _, err := reg.Resolve(ctx, "hello", q); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", q, err)
		}
	}
	if _, err := reg.Resolve(ctx, "nope", ""); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Resolve of an unknown function = %v", err)
	}
	vs, err := reg.Versions(ctx, "hello")
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	if _, err := reg.Deploy(ctx, "other", cfg(), ref); err != nil {
		t.Fatal(err)
	}
	fns, err := reg.List(ctx)
	if err != nil || len(fns) != 2 || fns[0].Name != "hello" || fns[1].Name != "other" {
		t.Fatalf("List = %+v, %v", fns, err)
	}
	if _, err := bus.JS.Consumer(ctx, events.StreamInvoke, events.ConsumerName("hello")); err != nil {
		t.Fatalf("consumer of hello: %v", err)
	}
}

func TestDeployInvalid(t *testing.T) {
	reg, _, ref := setup(t)
	ctx := context.Background()
	mod := func(f func(*events.Config)) events.Config { c := cfg(); f(&c); return c }
	cases := map[string]struct {
		name string
		cfg  events.Config
		want string
	}{
		"bad name":      {"Hello", cfg(), "invalid function name"},
		"dotted name":   {"a.b", cfg(), "invalid function name"},
		"runtime":       {"f", mod(func(c *events.Config) { c.Runtime = "cobol" }), "use one of custom, dotnet, go, java, nodejs, php, python"},
		"no runtime":    {"f", mod(func(c *events.Config) { c.Runtime = "" }), "runtime is required"},
		"handler":       {"f", mod(func(c *events.Config) { c.Handler = "main" }), "python handlers are module.function"},
		"memory low":    {"f", mod(func(c *events.Config) { c.MemoryMB = 32 }), "memoryMB 32"},
		"memory high":   {"f", mod(func(c *events.Config) { c.MemoryMB = 20000 }), "memoryMB 20000"},
		"timeout":       {"f", mod(func(c *events.Config) { c.Timeout = events.Duration(time.Hour) }), "timeout 1h0m0s"},
		"timeout short": {"f", mod(func(c *events.Config) { c.Timeout = events.Duration(time.Millisecond) }), "timeout 1ms"},
		"min above max": {"f", mod(func(c *events.Config) { c.Min, c.Max = 5, 2 }), "min 5 and max 2"},
		"max":           {"f", mod(func(c *events.Config) { c.Max = 1001 }), "max 1001"},
		"negative min":  {"f", mod(func(c *events.Config) { c.Min = -1 }), "min -1"},
		"concurrency":   {"f", mod(func(c *events.Config) { c.Concurrency = 1001 }), "concurrency 1001"},
		"concurrent":    {"f", mod(func(c *events.Config) { c.Concurrency = 4 }), "python serves one invocation per instance at a time: concurrency 4 needs one of nodejs"},
		"retries":       {"f", mod(func(c *events.Config) { c.Retries = -1 }), "retries -1"},
		"reserved":      {"f", mod(func(c *events.Config) { c.Reserved, c.Max = 3, 5 }), "reserved concurrency 3"},
		"env name":      {"f", mod(func(c *events.Config) { c.Env = map[string]string{"A-B": "x"} }), `"A-B"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := reg.Deploy(ctx, tc.name, tc.cfg, ref)
			if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
	_, err := reg.Deploy(ctx, "f", cfg(), events.CodeRef{SHA256: strings.Repeat("b", 64)})
	if !errors.Is(err, registry.ErrCodeNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	if fns, _ := reg.List(ctx); len(fns) != 0 {
		t.Fatalf("failed deploys left functions: %+v", fns)
	}
}

func TestConcurrentDeploys(t *testing.T) {
	reg, _, ref := setup(t)
	ctx := context.Background()
	const n = 12
	var wg sync.WaitGroup
	got := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			v, err := reg.Deploy(ctx, "race", cfg(), ref)
			got[i], errs[i] = v.Version, err
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[got[i]] {
			t.Fatalf("version %d given to two deploys: %v", got[i], got)
		}
		seen[got[i]] = true
	}
	f, err := reg.Function(ctx, "race")
	if err != nil || f.Latest != n {
		t.Fatalf("head latest = %d, %v; want %d", f.Latest, err, n)
	}
}

func TestDelete(t *testing.T) {
	reg, bus, ref := setup(t)
	ctx := context.Background()
	for range 2 {
		if _, err := reg.Deploy(ctx, "gone", cfg(), ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Deploy(ctx, "kept", cfg(), ref); err != nil {
		t.Fatal(err)
	}
	for i, fn := range []string{"gone", "gone", "kept"} {
		ev := event.New()
		ev.SetID(fmt.Sprint("ev-", i))
		ev.SetSource("/test")
		ev.SetType(events.TypeInvoke)
		m, err := events.NewMsg(events.InvokeSubject(fn), ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Function(ctx, "gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("head after delete: %v", err)
	}
	if _, err := reg.Version(ctx, "gone", 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("version after delete: %v", err)
	}
	if _, err := bus.JS.Consumer(ctx, events.StreamInvoke, events.ConsumerName("gone")); err == nil {
		t.Fatal("consumer survived delete")
	}
	stream, _ := bus.JS.Stream(ctx, events.StreamInvoke)
	info, _ := stream.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("invoke stream holds %d messages, want only kept's 1", info.State.Msgs)
	}
	if err := reg.Delete(ctx, "gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A new deploy after delete starts again at version 1.
	v, err := reg.Deploy(ctx, "gone", cfg(), ref)
	if err != nil || v.Version != 1 {
		t.Fatalf("redeploy = %d, %v", v.Version, err)
	}
}
