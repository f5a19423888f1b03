package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDotnetHandlers(t *testing.T) {
	c := newCatalog(t, Options{})
	for _, h := range []string{"Hello.Function::Handle", "Function::Handle", "A.B.Outer+Inner::Run"} {
		if err := c.Validate("dotnet", h); err != nil {
			t.Errorf("Validate(dotnet, %q) = %v", h, err)
		}
	}
	for _, h := range []string{"", "Hello.Function", "Hello.Function::", "::Handle", "A..B::C", "A/B::C", "A::B::C"} {
		if err := c.Validate("dotnet", h); !errors.Is(err, ErrBadHandler) {
			t.Errorf("Validate(dotnet, %q) = %v, want ErrBadHandler", h, err)
		}
	}
}

func TestDotnetBuild(t *testing.T) {
	c := newCatalog(t, Options{})
	if err := c.Check("dotnet"); err != nil {
		t.Fatalf("Check(dotnet) = %v (the tests need mono)", err)
	}
	src := t.TempDir()
	_ = os.WriteFile(filepath.Join(src, "F.cs"), []byte("namespace N { public class F { public int X() { return ; } } }\n"), 0o644)
	out, err := c.Build(context.Background(), "fn", "dotnet", "N.F::X", src, t.TempDir())
	if !errors.Is(err, ErrBuild) || !strings.Contains(string(out), "F.cs") {
		t.Fatalf("build of a broken source = %v\n%s", err, out)
	}
	_ = os.WriteFile(filepath.Join(src, "F.cs"), []byte(
		"using Sluice.Runtime;\nnamespace N { public class F { public string X(string e, ILambdaContext c) { return c.FunctionName; } } }\n"), 0o644)
	dst := t.TempDir()
	if out, err := c.Build(context.Background(), "fn", "dotnet", "N.F::X", src, dst); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dst, "function.dll")); err != nil {
		t.Fatalf("no function.dll: %v", err)
	}
	c = newCatalog(t, Options{Interpreters: map[string]string{"dotnet": "/nonexistent/mono"}})
	if err := c.Check("dotnet"); !errors.Is(err, ErrMissingToolchain) || !strings.Contains(err.Error(), dotnetInstall) {
		t.Errorf("Check(dotnet) without mono = %v, want the packages to install", err)
	}
}
