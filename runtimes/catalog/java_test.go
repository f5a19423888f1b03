package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestJavaHandlers(t *testing.T) {
	c := newCatalog(t, Options{})
	for _, h := range []string{"example.Hello::handle", "Hello::handle", "a.b.C", "a.b.C$Inner::run"} {
		if err := c.Validate("java", h); err != nil {
			t.Errorf("Validate(java, %q) = %v", h, err)
		}
	}
	for _, h := range []string{"", "a.b.C::", "::m", "a..C::m", "a.b.C::m::n", "a/b.C::m", "1a.C::m"} {
		if err := c.Validate("java", h); !errors.Is(err, ErrBadHandler) {
			t.Errorf("Validate(java, %q) = %v, want ErrBadHandler", h, err)
		}
	}
}

func TestJavaCommandAndBuild(t *testing.T) {
	c := newCatalog(t, Options{})
	if err := c.Check("java"); err != nil {
		t.Fatalf("Check(java) = %v (the tests need a JDK)", err)
	}
	cmd, err := c.Command("java", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cmd.Args, "-Xmx850m") || !slices.Contains(cmd.Args, "-XX:+UseSerialGC") {
		t.Errorf("java command = %v", cmd.Args)
	}
	if !c.Builds("java") {
		t.Fatal("java does not build at deploy")
	}
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(src, "lib", "app.properties"), []byte("greeting=hi\n"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "Broken.java"), []byte("public class Broken { int x = ; }\n"), 0o644)
	out, err := c.Build(context.Background(), "fn", "java", "Broken::handle", src, dst)
	if !errors.Is(err, ErrBuild) || !strings.Contains(string(out), "Broken.java") {
		t.Fatalf("build of a broken source = %v\n%s", err, out)
	}
	_ = os.WriteFile(filepath.Join(src, "Broken.java"), []byte(
		"import dev.sluice.runtime.Context;\npublic class Broken { public String handle(String e, Context c) { return c.getFunctionName(); } }\n"), 0o644)
	dst = t.TempDir()
	if out, err := c.Build(context.Background(), "fn", "java", "Broken::handle", src, dst); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, f := range []string{"Broken.class", "lib/app.properties"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("build output lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "dev")); err == nil {
		t.Error("the Context API was compiled into the function's output")
	}
	c = newCatalog(t, Options{Interpreters: map[string]string{"java": "/nonexistent/java"}})
	if err := c.Check("java"); !errors.Is(err, ErrMissingToolchain) || !strings.Contains(err.Error(), javaInstall) {
		t.Errorf("Check(java) without a JDK = %v, want the package to install", err)
	}
}
