package gobuild_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rtbuild "sluice.dev/runtimes/build"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/gobuild"
	"sluice.dev/runtimes/instance"
	"sluice.dev/runtimes/sandbox"
)

// build builds a fixture folder as the registry does, with the node's shared cache.
func build(t *testing.T, cat *catalog.Catalog, fixture string) (string, []byte, error) {
	t.Helper()
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
	if fixture == "broken" { // not a file of the repository: gofmt would refuse it
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		broken := "package main\n\nfunc main() {\n\tfmt.Println(\"missing a parenthesis\"\n}\n"
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.CopyFS(src, os.DirFS(filepath.Join("testdata", fixture))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	out, err := cat.Build(ctx, "gobuild-"+fixture, "go", "bootstrap", src, dst)
	t.Logf("build %s: %s\n%s", fixture, time.Since(started).Round(time.Millisecond), out)
	return dst, out, err
}

func newCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat := catalog.New(catalog.Options{})
	t.Cleanup(func() { _ = cat.Close() })
	return cat
}

// A function written with aws-lambda-go runs unchanged, in the sandbox: its module comes from
// the module proxy at build time.
func TestAWSLambdaGoRunsUnchanged(t *testing.T) {
	cat := newCatalog(t)
	code, _, err := build(t, cat, "lambda")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(context.Background(), sandbox.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	cfg := instance.Config{ID: "lambda-1", Function: "hello", Version: 2, Runtime: "go", Handler: "bootstrap",
		CodeDir: code, MemoryMB: 192, Timeout: 10 * time.Second, Sandbox: sb}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	i, err := instance.Start(ctx, cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = i.Close() })
	invoke := func(payload string) instance.Response {
		t.Helper()
		resp, err := i.Invoke(context.Background(), instance.Request{ID: "req-" + payload[2:6], Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("invoke %s: %v", payload, err)
		}
		return resp
	}
	resp := invoke(`{"name":"Ada"}`)
	for _, want := range []string{`"greeting":"Hello, Ada"`, `"requestId":"req-name"`, `"functionName":"hello"`,
		`"arn":"arn:aws:lambda:local:000000000000:function:hello:2"`, `"hasDeadline":true`, `"memory":192`} {
		if !strings.Contains(string(resp.Payload), want) {
			t.Errorf("answer %s lacks %s", resp.Payload, want)
		}
	}
	// Errors keep their type; one with a huge message (and X-Ray cause header) too.
	resp = invoke(`{"do":"fail"}`)
	if e := resp.Error; e == nil || e.Type != "QuotaError" || e.Message != "quota exhausted, 0 left" {
		t.Fatalf("fail = %+v", resp.Error)
	}
	resp = invoke(`{"do":"bigfail"}`)
	if e := resp.Error; e == nil || e.Type != "errorString" || len(e.Message) != 20000 {
		t.Fatalf("bigfail = %+v", resp.Error)
	}
	// A panic is reported with its stack, then aws-lambda-go ends the process.
	resp = invoke(`{"do":"panic"}`)
	if e := resp.Error; e == nil || !strings.Contains(e.Message, "it fell over") || len(e.Trace) == 0 {
		t.Fatalf("panic = %+v", resp.Error)
	}
	select {
	case <-i.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the process goes on after a panic")
	}
}

// A build failure is answered with the compiler's message, naming the file.
func TestBuildFailureShowsTheCompiler(t *testing.T) {
	cat := newCatalog(t)
	_, out, err := build(t, cat, "broken")
	if !errors.Is(err, catalog.ErrBuild) || !errors.Is(err, gobuild.ErrBuild) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(string(out), "./main.go:4:") || !strings.Contains(string(out), "syntax error") {
		t.Fatalf("output = %s", out)
	}
}

// sharedCache is one cache root for the tests that build with the SDK, so that the seed is
// compiled once per run.
var sharedCache = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "gobuild-test-")
	if err != nil {
		panic(err)
	}
	return dir
})

func TestMain(m *testing.M) {
	code := m.Run()
	_ = os.RemoveAll(sharedCache())
	os.Exit(code)
}

// sdkFunction writes a function using the SDK into a new folder.
func sdkFunction(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	mod := "module f\n\ngo 1.22\n\nrequire sluice.dev/sdk v0.0.0\n"
	main := "package main\n\nimport sluice \"sluice.dev/sdk\"\n\nfunc main() { _ = sluice.FromContext }\n"
	for name, text := range map[string]string{"go.mod": mod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// The SDK is written once per content into the cache and the function's go.mod points at it.
func TestSDKCopyAndReplace(t *testing.T) {
	cache := sharedCache()
	src, dst := sdkFunction(t), t.TempDir()
	sdk := os.DirFS(filepath.Join("..", "sdk", "go"))
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	out, err := gobuild.Build(context.Background(), gobuild.Options{Go: gobin, CacheDir: cache, SDK: sdk, CacheKey: "f"}, src, dst)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	gomod, _ := os.ReadFile(filepath.Join(src, "go.mod"))
	copies, _ := fs.Glob(os.DirFS(cache), "sdk/*/go.mod")
	if len(copies) != 1 || !strings.Contains(string(gomod), "replace sluice.dev/sdk => "+filepath.Join(cache, "sdk")) {
		t.Fatalf("sdk copies %v, go.mod:\n%s", copies, gomod)
	}
}

// A package with a name a tool would read as an option is refused before anything runs, and a
// build without a cache key is refused: there is no shared cache to fall back to.
func TestRefusals(t *testing.T) {
	gobin := "/nonexistent/go" // never run: both refusals come first
	for name, want := range map[string]string{"-x.go": `"-x.go"`, "@args/main.go": `"@args"`} {
		src := t.TempDir()
		files := map[string]string{"go.mod": "module f\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n", name: "package main\n"}
		for n, text := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, n), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := gobuild.Build(context.Background(), gobuild.Options{Go: gobin, CacheDir: t.TempDir(), CacheKey: "f"}, src, t.TempDir())
		if !errors.Is(err, gobuild.ErrBuild) || !errors.Is(err, rtbuild.ErrOptionName) || !strings.Contains(err.Error(), want) {
			t.Errorf("build with %s = %v, want ErrBuild naming %s", name, err, want)
		}
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gobuild.Build(context.Background(), gobuild.Options{Go: gobin, CacheDir: t.TempDir()}, src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no cache key") {
		t.Errorf("build without a cache key = %v", err)
	}
}

// A new key's first build starts from the node's seed: its cache holds the seed's compiled
// packages as hard links of files that stay read-only and root's, which the build, run in the
// sandbox as another uid, leaves as they were.
func TestSeedWarmsNewKeys(t *testing.T) {
	sb, err := sandbox.New(context.Background(), sandbox.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	cache := sharedCache()
	sdk := os.DirFS(filepath.Join("..", "sdk", "go"))
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	buildKey := func(key string) {
		t.Helper()
		src, dst := sdkFunction(t), t.TempDir()
		started := time.Now()
		out, err := gobuild.Build(context.Background(), gobuild.Options{Go: gobin, CacheDir: cache, SDK: sdk, CacheKey: key, Runner: sb}, src, dst)
		t.Logf("build %s: %s\n%s", key, time.Since(started).Round(time.Millisecond), out)
		if err != nil {
			t.Fatalf("build %s: %v", key, err)
		}
	}
	buildKey("first")
	seeds, _ := filepath.Glob(filepath.Join(cache, "seed", "*", "go-build"))
	if len(seeds) != 1 {
		t.Fatalf("seed caches %v, want one", seeds)
	}
	snapshot := func() map[string]string {
		m := map[string]string{}
		_ = filepath.WalkDir(seeds[0], func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				fi, _ := d.Info()
				b, _ := os.ReadFile(p)
				m[p] = fmt.Sprintf("%v %x", fi.Mode(), sha256.Sum256(b))
			}
			return nil
		})
		return m
	}
	before := snapshot()
	if len(before) < 100 {
		t.Fatalf("the seed holds %d files", len(before))
	}
	buildKey("second")
	linked := 0
	for p := range before {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Nlink > 1 {
			linked++
		}
		if os.Geteuid() == 0 && st.Uid != 0 {
			t.Errorf("seed file %s belongs to uid %d after a build", p, st.Uid)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("seed file %s has mode %v", p, fi.Mode())
		}
	}
	if after := snapshot(); !maps.Equal(before, after) {
		t.Errorf("a build changed the seed")
	}
	if linked < len(before)/2 {
		t.Errorf("%d of %d seed files are linked into the keys' caches", linked, len(before))
	}
}
