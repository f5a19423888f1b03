package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bin is the sluice binary the tasks build and run, from the root.
const bin = "./bin/sluice"

// catalogue is every task by name.
func catalogue() map[string]task {
	return map[string]task{
		"build": {desc: "Build the sluice binary into ./bin/sluice", run: build},
		"up": {desc: "Run a node on .data in the foreground, deploy examples/*, print the URL and token (Ctrl-C stops)",
			needs: []string{"build"}, run: up},
		"test": {desc: "Check formatting, vet, and run the tests of every module (e2e included)",
			needs: []string{"build", "lint", "minio", "nats-server"}, run: test},
		"lint":        {desc: "gofmt check and go vet over every module", run: lint},
		"fmt":         {desc: "gofmt every module", run: format},
		"tidy":        {desc: "go mod tidy in every module, then sync the workspace", run: tidy},
		"fuzz":        {desc: "Run every fuzz target (func FuzzX in a _test.go file) for FUZZTIME each (4s unless FUZZTIME=30s is given), one at a time", run: fuzz},
		"minio":       {desc: "Install the MinIO server the object-storage tests use into ./bin (only when missing)", run: installMinIO},
		"nats-server": {desc: "Install the nats-server the cluster tests start three of into ./bin (only when missing or another version)", run: installNATSServer},
		"rie":         {desc: "Install AWS Lambda's Runtime Interface Emulator, the bench's peer, into ./bin (only when missing)", run: installRIE},
		"bench": {desc: "Measure sluice against raw NATS, JetStream and net/http, a peer (AWS Lambda RIE), and on a 3-node NATS cluster; writes bench/RESULTS.md",
			needs: []string{"build", "nats-server", "rie"}, run: bench},
	}
}

// build makes a static binary (CGO_ENABLED=0, as the container image's): sluice needs no C, so a
// fresh machine needs no C toolchain, and the first build skips cgo's compiler runs.
func build(ctx context.Context, r *runner) error {
	return r.exec(ctx, command{env: []string{"CGO_ENABLED=0"}, args: []string{"go", "build", "-o", bin, "./services/cmd/sluice"}})
}

// test runs every module's tests, e2e against the binary just built. A failing module does not
// stop the others: every failure is in the log.
func test(ctx context.Context, r *runner) error {
	mods, err := r.modules(ctx, true)
	if err != nil {
		return err
	}
	e2eBin := "SLUICE_E2E_BIN=" + filepath.Join(r.root, bin)
	var failed []string
	for _, dir := range mods {
		// The timeout catches a hung test; the e2e module alone takes about 9 minutes on 2 cores.
		if err := r.exec(ctx, command{dir: dir, env: []string{e2eBin}, args: []string{"go", "test", "-count=1", "-timeout", "15m", "./..."}}); err != nil {
			failed = append(failed, r.rel(dir))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("tests failed in %s", strings.Join(failed, ", "))
	}
	return nil
}

// gofmtDirs are the folders gofmt checks: every module's but the root's, whose only Go code is
// this runner (the root's folder holds the others and .data).
func (r *runner) gofmtDirs(ctx context.Context) ([]string, error) {
	mods, err := r.modules(ctx, true)
	if err != nil {
		return nil, err
	}
	for i, dir := range mods {
		if dir == r.root {
			mods[i] = filepath.Join(r.root, "task")
		}
	}
	return mods, nil
}

func lint(ctx context.Context, r *runner) error {
	dirs, err := r.gofmtDirs(ctx)
	if err != nil {
		return err
	}
	out, err := r.output(ctx, r.root, append([]string{"gofmt", "-l"}, dirs...)...)
	if err != nil {
		return err
	}
	if out = strings.TrimSpace(out); out != "" {
		return fmt.Errorf("not gofmt-ed (go tool task fmt):\n%s", out)
	}
	mods, err := r.modules(ctx, true)
	if err != nil {
		return err
	}
	for _, dir := range mods {
		if err := r.exec(ctx, command{dir: dir, args: []string{"go", "vet", "./..."}}); err != nil {
			return err
		}
	}
	return nil
}

func format(ctx context.Context, r *runner) error {
	dirs, err := r.gofmtDirs(ctx)
	if err != nil {
		return err
	}
	return r.sh(ctx, append([]string{"gofmt", "-w"}, dirs...)...)
}

func tidy(ctx context.Context, r *runner) error {
	mods, err := r.modules(ctx, false)
	if err != nil {
		return err
	}
	for _, dir := range mods {
		if err := r.exec(ctx, command{dir: dir, args: []string{"go", "mod", "tidy"}}); err != nil {
			return err
		}
	}
	return r.sh(ctx, "go", "work", "sync")
}

func bench(ctx context.Context, r *runner) error {
	if err := r.sh(ctx, "go", "build", "-o", "./bin/sluice-bench", "./bench"); err != nil {
		return err
	}
	return r.sh(ctx, "./bin/sluice-bench", "-sluice", bin, "-out", "bench/RESULTS.md")
}

// rel is dir relative to the root, for messages.
func (r *runner) rel(dir string) string {
	rel, err := filepath.Rel(r.root, dir)
	if err != nil {
		return dir
	}
	return rel
}

// executable reports whether path (from the root) is a file the runner can run.
func (r *runner) executable(path string) bool {
	fi, err := os.Stat(filepath.Join(r.root, path))
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
