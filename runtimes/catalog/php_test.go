package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPHPHandlers(t *testing.T) {
	c := newCatalog(t, Options{})
	if !slices.Contains(c.IDs(), "php") {
		t.Fatalf("IDs = %v, want php among them", c.IDs())
	}
	for h, file := range map[string]string{"index.handler": "index.php", "lib/app.handle_it": "lib/app.php", "my-file._h2": "my-file.php"} {
		if err := c.Validate("php", h); err != nil {
			t.Errorf("Validate(php, %q) = %v", h, err)
		}
		if got := InlineFile("php", h); got != file {
			t.Errorf("InlineFile(php, %q) = %q, want %q", h, got, file)
		}
	}
	for _, h := range []string{"", "index", "index.", ".handler", "../x.h", "/abs/x.h", "x.1h", "x.a-b", `x.ns\fn`} {
		if err := c.Validate("php", h); !errors.Is(err, ErrBadHandler) {
			t.Errorf("Validate(php, %q) = %v, want ErrBadHandler", h, err)
		}
	}
}

func TestPHPCommand(t *testing.T) {
	c := newCatalog(t, Options{})
	if err := c.Check("php"); err != nil {
		t.Fatalf("Check(php) = %v (the tests need php-cli)", err)
	}
	cmd, err := c.Command("php", 200)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cmd.Args, "memory_limit=180M") || !strings.HasSuffix(cmd.Args[len(cmd.Args)-1], "php-bootstrap.php") {
		t.Errorf("php command = %v", cmd.Args)
	}
	c = newCatalog(t, Options{Interpreters: map[string]string{"php": "/nonexistent/php"}})
	if err := c.Check("php"); !errors.Is(err, ErrMissingToolchain) || !strings.Contains(err.Error(), "apt-get install php-cli") {
		t.Errorf("Check(php) without php = %v, want the package to install", err)
	}
}
