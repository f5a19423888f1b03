package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"sluice.dev/runtimes/build"
)

// The seed: a build cache the node compiles once from its own code (the standard library
// packages and the SDK a function's build needs first), from which every new key's cache
// starts. Its files are hard-linked into the key's cache, and belong to root: a build, which
// runs as another uid, can add entries to its own cache but cannot change the seed's, so one
// function's build still cannot poison another's.

// seedMain is the program compiled into the seed: the SDK pulls in net/http, encoding/json and
// the rest a function's first build would compile.
const seedMain = `package main

import (
	_ "encoding/json"
	_ "net/http"
%s)

func main() {}
`

// seedComplete marks a finished seed.
const seedComplete = "complete"

// seedCache fills the key's empty build cache from the seed, making the seed first if this
// node has none for this toolchain and SDK. A seed that cannot be made or linked only costs
// the key a cold first build.
func (j *job) seedCache(ctx context.Context) error {
	if entries, err := os.ReadDir(j.caches.gocache); err != nil || len(entries) > 0 {
		return nil // a key's cache is seeded once, when new
	}
	seed, err := j.seed(ctx)
	if err != nil {
		return err
	}
	return linkTree(seed, j.caches.gocache)
}

// seed returns this toolchain's and SDK's seed cache, making it (once per node, under a lock)
// when missing.
func (j *job) seed(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", j.o.Go, filepath.Base(j.sdk)) // the SDK copy's folder is named for its content
	if fi, err := os.Stat(j.o.Go); err == nil {
		fmt.Fprintf(h, "%d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	dir := j.o.SeedDir
	if dir == "" {
		dir = filepath.Join(j.root, "seed")
	}
	base := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:16])
	cache := filepath.Join(base, "go-build")
	if _, err := os.Stat(filepath.Join(base, seedComplete)); err == nil {
		return cache, nil
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	lock, err := os.OpenFile(base+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	if _, err := os.Stat(filepath.Join(base, seedComplete)); err == nil {
		return cache, nil // made while this build waited
	}
	_ = os.RemoveAll(base)
	if err := j.makeSeed(ctx, base); err != nil {
		_ = os.RemoveAll(base)
		return "", err
	}
	return cache, nil
}

// makeSeed compiles seedMain into base/go-build with the build's own flags, then makes every
// file of it read-only and root's.
func (j *job) makeSeed(ctx context.Context, base string) error {
	src, home, tmp := filepath.Join(base, "src"), filepath.Join(base, "home"), filepath.Join(base, "tmp")
	cache, gopath := filepath.Join(base, "go-build"), filepath.Join(base, "gopath")
	for _, d := range []string{src, home, tmp, cache, filepath.Join(gopath, "pkg", "mod")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	mod, imports := "module seed\n\ngo 1.22\n", ""
	if j.sdk != "" {
		mod += "\nrequire " + SDKModule + " v0.0.0\n\nreplace " + SDKModule + " => " + j.sdk + "\n"
		imports = "\t_ \"" + SDKModule + "\"\n"
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), fmt.Appendf(nil, seedMain, imports), 0o644); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	env := make([]string, 0, len(j.env))
	for _, kv := range j.env {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "TMPDIR", "GOCACHE", "GOMODCACHE", "GOPATH":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "TMPDIR="+tmp, "GOCACHE="+cache, "GOPATH="+gopath,
		"GOMODCACHE="+filepath.Join(gopath, "pkg", "mod"))
	out, err := j.run.Run(ctx, build.Command{
		Path: j.o.Go, Args: []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", filepath.Join(tmp, "seed"), "."},
		Env: env, Dir: src, Read: j.reads(), Write: []string{src, home, tmp, cache, gopath},
	})
	if err != nil {
		return fmt.Errorf("seed the build cache: %w: %s", err, j.scrub(out))
	}
	err = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, 0, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			return err // not root: the seed stays the node's own uid's
		}
		if d.Type().IsRegular() {
			return os.Chmod(p, 0o444)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, d := range []string{src, home, tmp, gopath} {
		_ = os.RemoveAll(d)
	}
	return os.WriteFile(filepath.Join(base, seedComplete), nil, 0o644)
}

// linkTree hard-links every entry file of Go's cache at from (its two-hex-digit folders) into
// to, making the folders; across file systems it copies them.
func linkTree(from, to string) error {
	dirs, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue // trim.txt, README: the key's cache writes its own
		}
		files, err := os.ReadDir(filepath.Join(from, d.Name()))
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(to, d.Name()), 0o755); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			src, dst := filepath.Join(from, d.Name(), f.Name()), filepath.Join(to, d.Name(), f.Name())
			err := os.Link(src, dst)
			if errors.Is(err, syscall.EXDEV) { // the seed sits on another file system: a copy, root's and read-only too
				err = copyFile(src, dst, 0o444)
			}
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("seed: %w", err)
			}
		}
	}
	return nil
}
