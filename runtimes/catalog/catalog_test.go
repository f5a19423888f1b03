package catalog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newCatalog(t *testing.T, opts Options) *Catalog {
	t.Helper()
	c := New(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestIDsAndValidate(t *testing.T) {
	c := newCatalog(t, Options{})
	// Each runtime's own test checks its id; these two are the first.
	if got := c.IDs(); !slices.IsSorted(got) || !slices.Contains(got, "nodejs") || !slices.Contains(got, "python") {
		t.Fatalf("IDs = %v", got)
	}
	good := map[string][]string{
		"python": {"main.handler", "pkg.mod.fn", "_m.f_2"},
		"nodejs": {"index.handler", "lib/app.handler", "src/v1/index.api.get", "my-file.$h"},
	}
	bad := map[string][]string{
		"python": {"", "main", "main.", ".handler", "main/handler.x", "1main.h", "a..b"},
		"nodejs": {"", "index", "index.", ".handler", "../x.h", "/abs/x.h", "a/./b.h", "x.1h", "a//b.h"},
	}
	for rt, hs := range good {
		for _, h := range hs {
			if err := c.Validate(rt, h); err != nil {
				t.Errorf("Validate(%s, %q) = %v", rt, h, err)
			}
		}
	}
	for rt, hs := range bad {
		for _, h := range hs {
			if err := c.Validate(rt, h); !errors.Is(err, ErrBadHandler) {
				t.Errorf("Validate(%s, %q) = %v, want ErrBadHandler", rt, h, err)
			}
		}
	}
	err := c.Validate("cobol", "x.y")
	if !errors.Is(err, ErrUnknownRuntime) || !strings.Contains(err.Error(), strings.Join(c.IDs(), ", ")) {
		t.Fatalf("Validate(cobol) = %v, want ErrUnknownRuntime listing the ids", err)
	}
	if err := c.Check("cobol"); !errors.Is(err, ErrUnknownRuntime) {
		t.Fatalf("Check(cobol) = %v", err)
	}
}

func TestInlineFile(t *testing.T) {
	cases := []struct{ rt, h, want string }{
		{"python", "main.handler", "main.py"},
		{"python", "pkg.mod.fn", "pkg/mod.py"},
		{"nodejs", "index.handler", "index.js"},
		{"nodejs", "lib/app.handler", "lib/app.js"},
		{"nodejs", "bad", ""},
		{"cobol", "x.y", ""},
	}
	for _, tc := range cases {
		if got := InlineFile(tc.rt, tc.h); got != tc.want {
			t.Errorf("InlineFile(%s, %s) = %q, want %q", tc.rt, tc.h, got, tc.want)
		}
	}
}

func TestCommandUsesRealInterpreters(t *testing.T) {
	c := newCatalog(t, Options{})
	for _, id := range c.IDs() {
		if err := c.Check(id); err != nil {
			t.Fatalf("Check(%s) = %v (the tests need python3 and node)", id, err)
		}
		cmd, err := c.Command(id, 128)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.InCode {
			continue // the function's own executable (exec_test.go)
		}
		if !filepath.IsAbs(cmd.Path) || isScript(cmd.Path) || strings.Contains(cmd.Path, "shims") {
			t.Errorf("%s interpreter = %s, want a real absolute path", id, cmd.Path)
		}
		boot := cmd.Args[len(cmd.Args)-1]
		if id == "java" { // the jar is on the class path; the main class comes last
			boot = cmd.Args[len(cmd.Args)-2]
		}
		b, err := os.ReadFile(boot)
		if err != nil || len(b) == 0 {
			t.Errorf("%s bootstrap %s: %v", id, boot, err)
		}
	}
	if p := c.Interpreter("python"); p != "/usr/bin/python3" && fileExists("/usr/bin/python3") {
		t.Errorf("python interpreter = %s, want Debian's /usr/bin/python3", p)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestMissingToolchainNamesThePackage(t *testing.T) {
	c := newCatalog(t, Options{Interpreters: map[string]string{"nodejs": "/nonexistent/node"}})
	err := c.Check("nodejs")
	if !errors.Is(err, ErrMissingToolchain) || !strings.Contains(err.Error(), "runtime nodejs needs node on the worker: apt-get install nodejs") {
		t.Fatalf("Check(nodejs) = %v", err)
	}
	if _, err := c.Command("nodejs", 128); !errors.Is(err, ErrMissingToolchain) {
		t.Fatalf("Command(nodejs) = %v", err)
	}
	if err := c.Check("python"); err != nil {
		t.Fatalf("Check(python) = %v", err)
	}
}

func TestShimIsResolvedOnce(t *testing.T) {
	real := "/usr/bin/python3"
	if !fileExists(real) {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "python3")
	count := filepath.Join(dir, "runs")
	script := "#!/bin/sh\necho run >> " + count + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(shim, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := specs()[slices.IndexFunc(specs(), func(s spec) bool { return s.id == "python" })]
	s.preferred = nil
	got, err := resolve(s, "", func(string) (string, error) { return shim, nil })
	if err != nil {
		t.Fatal(err)
	}
	if got == shim || isScript(got) {
		t.Fatalf("resolved %s, want the real interpreter", got)
	}
	runs, _ := os.ReadFile(count)
	if strings.Count(string(runs), "run") != 1 {
		t.Fatalf("shim ran %d times, want once", strings.Count(string(runs), "run"))
	}
	// An override that is itself a shim is resolved the same way.
	got, err = resolve(s, shim, nil)
	if err != nil || isScript(got) {
		t.Fatalf("override shim resolved to %s, %v", got, err)
	}
}

func TestBootstrapFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "boot")
	c := New(Options{BootstrapDir: dir})
	cmd, err := c.Command("python", 0)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(cmd.Args[len(cmd.Args)-1]) != dir {
		t.Fatalf("bootstrap not in %s: %v", dir, cmd.Args)
	}
	_ = c.Close()
	if !fileExists(dir) {
		t.Fatal("Close removed a folder it did not make")
	}
	c2 := New(Options{})
	own := c2.dir
	_ = c2.Close()
	if fileExists(own) {
		t.Fatal("Close left its temporary folder")
	}
}

func TestSpecializable(t *testing.T) {
	c := New(Options{LookPath: func(f string) (string, error) { return "/bin/true", nil },
		Interpreters: map[string]string{"python": "/bin/true", "nodejs": "/bin/true"}})
	t.Cleanup(func() { _ = c.Close() })
	cases := []struct {
		runtime string
		env     map[string]string
		want    bool
	}{
		{"python", nil, true},
		{"python", map[string]string{"GREETING": "hi", "PYTHONPATH": "lib"}, true},
		{"python", map[string]string{"PYTHONHASHSEED": "0"}, false},
		{"python", map[string]string{"LC_ALL": "C"}, false},
		{"nodejs", map[string]string{"NODE_ENV": "production"}, true},
		{"nodejs", map[string]string{"NODE_OPTIONS": "--enable-source-maps"}, false},
		{"cobol", nil, false},
	}
	for _, tc := range cases {
		if got := c.Specializable(tc.runtime, tc.env); got != tc.want {
			t.Errorf("Specializable(%s, %v) = %v, want %v", tc.runtime, tc.env, got, tc.want)
		}
	}
}

// A worker killed before Close leaves its bootstrap folder; the next catalog made on the host
// removes it, and never the folder of a process that runs.
func TestBootstrapFoldersOfDeadProcessesAreSwept(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(tmp, fmt.Sprintf("sluice-bootstrap-%d-1", dead.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("sluice-bootstrap-%d-2", os.Getppid()))
	other := filepath.Join(tmp, "sluice-bootstrap-notapid")
	for _, d := range []string{left, live, other} {
		if err := os.MkdirAll(filepath.Join(d, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := newCatalog(t, Options{})
	if !strings.HasPrefix(filepath.Base(c.dir), fmt.Sprintf("sluice-bootstrap-%d-", os.Getpid())) {
		t.Errorf("bootstrap folder %s is not named after its process", c.dir)
	}
	if fileExists(left) {
		t.Error("the folder of a process that ended is still there")
	}
	if !fileExists(live) || !fileExists(other) {
		t.Error("a folder of a running process, or not of a bootstrap, was removed")
	}
}
