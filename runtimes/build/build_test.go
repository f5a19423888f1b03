package build_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
	"sluice.dev/runtimes/build"
	"sluice.dev/runtimes/internal/proctest"
)

// Direct gives the command exactly its own environment: nothing of this process's.
func TestDirectPassesOnlyTheCommandsEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_SECRET", "s3cr3t-of-the-node")
	dir := t.TempDir()
	out, err := build.Direct{}.Run(context.Background(), build.Command{Path: "/usr/bin/env", Env: []string{"A=1", "LANG=C.UTF-8"}, Dir: dir})
	if err != nil || string(out) != "A=1\nLANG=C.UTF-8\n" {
		t.Fatalf("env = %q, %v", out, err)
	}
	out, err = build.Direct{}.Run(context.Background(), build.Command{Path: "/usr/bin/env", Dir: dir})
	if err != nil || len(out) != 0 {
		t.Fatalf("env of a command without Env = %q, %v: want none", out, err)
	}
	out, err = build.Direct{}.Run(context.Background(), build.Command{Path: "/bin/pwd", Dir: dir})
	if real, _ := filepath.EvalSymlinks(dir); err != nil || strings.TrimSpace(string(out)) != real {
		t.Fatalf("pwd = %q, %v, want %s", out, err, dir)
	}
	if _, err := (build.Direct{}).Run(context.Background(), build.Command{Path: "env"}); err == nil {
		t.Fatal("a relative tool path ran")
	}
}

// A failing tool returns its output and an error; a huge output is capped, saying how much was
// left out.
func TestDirectOutputAndFailure(t *testing.T) {
	out, err := build.Direct{}.Run(context.Background(), build.Command{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"}})
	if err == nil || string(out) != "out\nerr\n" {
		t.Fatalf("run = %q, %v", out, err)
	}
	out, err = build.Direct{}.Run(context.Background(), build.Command{Path: "/bin/sh", Args: []string{"-c", "head -c 100000 /dev/zero"}})
	if err != nil || len(out) > build.MaxOutput+100 || !strings.Contains(string(out), "34464 more bytes of output left out") {
		t.Fatalf("capped output: %d bytes, %v, tail %q", len(out), err, out[max(0, len(out)-60):])
	}
}

// When ctx ends the tool's whole process group is killed, children too, and the error says so.
func TestDirectKillsTheProcessGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := build.Direct{}.Run(ctx, build.Command{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & echo $! > " + pidfile + "; wait"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 10*time.Second {
		t.Fatalf("run = %v after %s", err, time.Since(started))
	}
	b, _ := os.ReadFile(pidfile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the child's pid %q: %v", b, err)
	}
	// Gone once killed, reaped or not (a zombie waits for init).
	testkit.EventuallyEvery(t, 5*time.Second, 50*time.Millisecond, func() error { return proctest.Gone(pid) })
}

func TestCheckNames(t *testing.T) {
	for _, name := range []string{"-d x.java", "@evil.cs", "lib/-Xplugin:P/A.java", "sub/@args"} {
		dir := t.TempDir()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		first := name
		if i := strings.IndexAny(name, "-@"); strings.Contains(name[i:], "/") {
			first = name[:i+strings.Index(name[i:], "/")]
		}
		err := build.CheckNames(dir)
		if !errors.Is(err, build.ErrOptionName) || !strings.Contains(err.Error(), `"`+first+`"`) {
			t.Errorf("CheckNames with %q = %v, want ErrOptionName naming %q", name, err, first)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"a-b.java", "x@y.cs", "with space.java"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := build.CheckNames(dir); err != nil {
		t.Fatalf("CheckNames = %v", err)
	}
}

func TestScrub(t *testing.T) {
	out := []byte("/b/src/main.go:1: x\n/b/src: y\n/c/go/fn/a/go-build/00/x /c/go/fn/a/gopath/pkg/mod/m@v1 /c/go/sdk/1\n")
	got := string(build.Scrub(out, map[string]string{
		"/b/src": ".", "/c/go/fn/a/go-build": "$GOCACHE", "/c/go/fn/a/gopath": "$GOPATH",
		"/c/go/fn/a/gopath/pkg/mod": "$GOMODCACHE", "/c/go": "$CACHE", "": "ignored",
	}))
	want := "main.go:1: x\n.: y\n$GOCACHE/00/x $GOMODCACHE/m@v1 $CACHE/sdk/1\n"
	if got != want {
		t.Fatalf("Scrub =\n%s\nwant\n%s", got, want)
	}
	// A folder reached through a symbolic link is replaced under both names.
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got := string(build.Scrub([]byte(real+"/a "+link+"/b"), map[string]string{link: "$OUT"})); got != "$OUT/a $OUT/b" {
		t.Fatalf("Scrub through a link = %q", got)
	}
}

func TestToolDir(t *testing.T) {
	for tool, want := range map[string]string{
		"/usr/bin/javac":            "",
		"/usr/local/go/bin/go":      "",
		"/opt/go/bin/go":            "/opt/go",
		"/home/u/sdk/go1.26/bin/go": "/home/u/sdk/go1.26",
		"/go":                       "",
	} {
		if got := build.ToolDir(tool); got != want {
			t.Errorf("ToolDir(%s) = %q, want %q", tool, got, want)
		}
	}
}
