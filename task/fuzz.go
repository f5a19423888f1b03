package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fuzz runs every fuzz target for FUZZTIME (4s by default). Each package with targets is built
// once, instrumented; its targets are those its test binary lists, each fuzzed on its own (Go
// fuzzes one target at a time) from the package's folder, with the corpus cache go test -fuzz
// uses. A failing input is printed for the log.
func fuzz(ctx context.Context, r *runner) error {
	fuzztime := os.Getenv("FUZZTIME")
	if fuzztime == "" {
		fuzztime = "4s"
	}
	start := time.Now()
	dirs, err := fuzzDirs(r.root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sluice-fuzz-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	gocache, err := r.output(ctx, r.root, "go", "env", "GOCACHE")
	if err != nil {
		return err
	}
	testBin := filepath.Join(tmp, "fuzz.test")
	for _, dir := range dirs {
		pkg, err := r.output(ctx, dir, "go", "list", ".")
		if err != nil {
			return err
		}
		pkg = strings.TrimSpace(pkg)
		if err := r.exec(ctx, command{dir: dir, args: []string{"go", "test", "-c", "-fuzz", "^Fuzz", "-o", testBin, "."}}); err != nil {
			return err
		}
		targets, err := r.output(ctx, dir, testBin, "-test.list", "^Fuzz")
		if err != nil {
			return err
		}
		for _, target := range strings.Fields(targets) {
			fmt.Printf("fuzz: %s %s for %s\n", pkg, target, fuzztime)
			if err := r.fuzzTarget(ctx, dir, testBin, target, fuzztime, filepath.Join(strings.TrimSpace(gocache), "fuzz", pkg)); err != nil {
				return fmt.Errorf("%s %s: %w", pkg, target, err)
			}
		}
	}
	fmt.Printf("fuzz: done in %.0fs\n", time.Since(start).Seconds())
	return nil
}

// fuzzTarget fuzzes one target of the test binary testBin, built from dir.
func (r *runner) fuzzTarget(ctx context.Context, dir, testBin, target, fuzztime, cache string) error {
	began := time.Now()
	var out bytes.Buffer
	err := r.exec(ctx, command{dir: dir, out: io.MultiWriter(os.Stdout, &out), args: []string{testBin,
		"-test.run", "^$", "-test.fuzz", "^" + target + "$", "-test.fuzztime", fuzztime,
		"-test.fuzzminimizetime", "10s", "-test.fuzzcachedir", cache, "-test.timeout", "5m", "-test.paniconexit0"}})
	if err == nil {
		return nil
	}
	// A failing input is written under the package's testdata/fuzz: show it.
	found := newFiles(filepath.Join(dir, "testdata", "fuzz", target), began)
	for _, f := range found {
		b, _ := os.ReadFile(f)
		fmt.Printf("== %s\n%s\n", r.rel(f), b)
	}
	// Go's fuzz coordinator can fail a target at the deadline having found nothing
	// (go.dev/issue/75804): that alone is not a failure.
	if len(found) == 0 && deadlineOnly(out.String(), target) {
		fmt.Printf("fuzz: %s stopped at the deadline with nothing found (go.dev/issue/75804)\n", target)
		return nil
	}
	return err
}

// deadlineOnly reports whether a fuzz run's output shows only the coordinator's deadline error.
func deadlineOnly(out, target string) bool {
	return slices.Contains(strings.Split(out, "\n"), "    context deadline exceeded") &&
		!strings.Contains(out, "--- FAIL: "+target+"/")
}

// newFiles are the files under dir changed since t.
func newFiles(dir string, t time.Time) []string {
	var found []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil && !fi.ModTime().Before(t) {
				found = append(found, path)
			}
		}
		return nil
	})
	return found
}

// fuzzDirs are the folders under root whose _test.go files hold fuzz targets, skipping hidden
// folders and testdata.
func fuzzDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if dir := filepath.Dir(path); holdsFuzzTarget(b) && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		return nil
	})
	slices.Sort(dirs)
	return dirs, err
}

// holdsFuzzTarget reports whether a test file's source declares a fuzz target.
func holdsFuzzTarget(src []byte) bool {
	return bytes.HasPrefix(src, []byte("func Fuzz")) || bytes.Contains(src, []byte("\nfunc Fuzz"))
}
