package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExecRuntimes(t *testing.T) {
	// A node without go still runs go functions built elsewhere, and custom ones.
	c := newCatalog(t, Options{Interpreters: map[string]string{"go": "/nonexistent/go"}})
	for _, id := range []string{"go", "custom"} {
		for _, h := range []string{"", "bootstrap", "anything.the-bootstrap.reads"} {
			if err := c.Validate(id, h); err != nil {
				t.Errorf("Validate(%s, %q) = %v", id, h, err)
			}
		}
		if err := c.Validate(id, "two\nlines"); !errors.Is(err, ErrBadHandler) {
			t.Errorf("Validate(%s, two lines) = %v", id, err)
		}
		if err := c.Check(id); err != nil {
			t.Errorf("Check(%s) = %v", id, err)
		}
		cmd, err := c.Command(id, 128)
		if err != nil || !cmd.InCode || cmd.Path != "bootstrap" || len(cmd.Args) != 1 {
			t.Errorf("Command(%s) = %+v, %v", id, cmd, err)
		}
	}
	if !c.Builds("go") || c.Builds("custom") {
		t.Errorf("Builds: go %v, custom %v", c.Builds("go"), c.Builds("custom"))
	}
	if InlineFile("go", "") != "main.go" || InlineFile("custom", "x") != "bootstrap" {
		t.Errorf("InlineFile: %q %q", InlineFile("go", ""), InlineFile("custom", "x"))
	}

	// Sources need the toolchain; the error names what to install.
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := c.Build(context.Background(), "fn", "go", "", src, dst)
	if !errors.Is(err, ErrMissingToolchain) || !strings.Contains(err.Error(), "apt-get install golang-go") {
		t.Fatalf("Build without go = %v", err)
	}
	// A prebuilt bootstrap needs none.
	src = t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "bootstrap"), []byte("\x7fELF..."), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := c.Build(context.Background(), "fn", "go", "", src, dst)
	if err != nil || !strings.Contains(string(out), "prebuilt bootstrap") {
		t.Fatalf("Build prebuilt = %s, %v", out, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "bootstrap")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("built bootstrap: %v %v", fi, err)
	}
	// Neither sources nor a bootstrap.
	_, err = c.Build(context.Background(), "fn", "go", "", t.TempDir(), t.TempDir())
	if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "go.mod") {
		t.Fatalf("Build of nothing = %v", err)
	}
}
