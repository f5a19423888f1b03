package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode"

	"sluice.dev/runtimes/build"
)

// Errors of a build, checkable with errors.Is.
var (
	ErrBuild        = errors.New("go build failed")
	ErrNoToolchain  = errors.New("go toolchain missing")
	ErrNothingToRun = errors.New("no go.mod and no executable bootstrap")
)

// SDKModule is the module path of sluice's Go SDK.
const SDKModule = "sluice.dev/sdk"

// Executable is the file name a go function's binary has, in its package and in the build.
const Executable = "bootstrap"

// Options configure a build.
type Options struct {
	Go       string              // the go command, an absolute path; "" when the node has none
	CacheDir string              // where Go's caches and the SDK copy live; made when missing
	SDK      fs.FS               // the SDK module's files (go.mod at its root); nil for none
	Getenv   func(string) string // the node's environment, for GOPROXY and the like; os.Getenv when nil
	// CacheKey names whose builds share Go's build and module caches (the function's name):
	// builds of one key reuse each other's work, and nothing of another key's. Required.
	CacheKey string
	// Runner runs the go command; build.Direct when nil.
	Runner build.Runner
	// SeedDir holds the seeds new keys' caches start from, one per toolchain and SDK (see
	// seed.go): every cache root that names the same folder shares them, so a host compiles
	// each once. CacheDir/seed when empty.
	SeedDir string
}

// passed are the node's variables a build sees, when set.
var passed = []string{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// job is one build's folders and environment, the same for each go command it runs.
type job struct {
	o      Options
	run    build.Runner
	src    string
	dst    string
	root   string // the cache root, Options.CacheDir made absolute
	caches caches
	sdk    string // the SDK copy, read-only to the build; "" when none
	tmp    string // the build's TMPDIR
	env    []string
}

// Build makes dst/bootstrap from the package unpacked in src (see the package doc). src may be
// changed (go.mod and go.sum are edited in place).
func Build(ctx context.Context, o Options, src, dst string) (output []byte, err error) {
	started := time.Now()
	source, err := isSource(src)
	if err != nil {
		return nil, err
	}
	if !source {
		return prebuilt(src, dst)
	}
	if o.Go == "" {
		return nil, fmt.Errorf("%w: the package has Go sources; install go on the node (apt-get install golang-go, or go.dev/dl) or upload a built linux bootstrap", ErrNoToolchain)
	}
	if o.CacheDir == "" {
		return nil, errors.New("gobuild: no cache folder")
	}
	if o.CacheKey == "" {
		return nil, errors.New("gobuild: no cache key")
	}
	if err := build.CheckNames(src); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	root, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	if src, err = filepath.Abs(src); err != nil {
		return nil, fmt.Errorf("read package: %w", err)
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	j := &job{o: o, run: o.Runner, src: src, dst: dst, root: root, caches: cachesOf(root, o.CacheKey)}
	if j.run == nil {
		j.run = build.Direct{}
	}
	if err := j.caches.make(); err != nil {
		return nil, err
	}
	if j.tmp, err = os.MkdirTemp(j.caches.dir, "tmp-"); err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	defer os.RemoveAll(j.tmp)
	if o.SDK != nil {
		if j.sdk, err = writeSDK(o.SDK, filepath.Join(root, "sdk")); err != nil {
			return nil, err
		}
	}
	j.env = j.environ()
	var note []byte
	if err := j.seedCache(ctx); err != nil {
		note = j.scrub(fmt.Appendf(nil, "go build: starting without the node's compiled standard library: %v\n", err))
	}
	if err := j.ensureGoMod(ctx); err != nil {
		return note, err
	}
	if j.sdk != "" {
		if out, err := j.goCmd(ctx, false, "mod", "edit", "-replace="+SDKModule+"="+j.sdk); err != nil {
			return out, fmt.Errorf("%w: point go.mod at the sdk: %w", ErrBuild, err)
		}
	}
	bin := filepath.Join(dst, Executable)
	out, err := j.goCmd(ctx, true, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
	if err != nil {
		if ctx.Err() != nil {
			return out, fmt.Errorf("%w: %w", ErrBuild, ctx.Err())
		}
		return out, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return out, fmt.Errorf("%w: no %s made: %w", ErrBuild, Executable, err)
	}
	out = append(append(note, out...), fmt.Sprintf("go build: %s %s for linux/%s in %s\n",
		Executable, size(fi.Size()), runtime.GOARCH, time.Since(started).Round(time.Millisecond))...)
	return out, nil
}

// caches are the folders of one cache key, under the cache root's fn folder: Go's build cache,
// GOPATH (the module cache inside it) and HOME.
type caches struct {
	dir, gocache, gopath, modcache, home string
}

// cachesOf names key's cache folders under root. The folder name keeps the key's safe
// characters for whoever looks, and a hash of the whole key, so that two keys never share one.
func cachesOf(root, key string) caches {
	sum := sha256.Sum256([]byte(key))
	safe := []rune{}
	for _, r := range key {
		if len(safe) == 48 {
			break
		}
		if r < 128 && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			safe = append(safe, r)
		} else {
			safe = append(safe, '_')
		}
	}
	dir := filepath.Join(root, "fn", string(safe)+"-"+hex.EncodeToString(sum[:])[:12])
	return caches{
		dir:      dir,
		gocache:  filepath.Join(dir, "go-build"),
		gopath:   filepath.Join(dir, "gopath"),
		modcache: filepath.Join(dir, "gopath", "pkg", "mod"),
		home:     filepath.Join(dir, "home"),
	}
}

// make creates the folders: a runner shows only folders that exist.
func (c caches) make() error {
	for _, d := range []string{c.gocache, c.modcache, c.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cache folder: %w", err)
		}
	}
	return nil
}

// reads are the folders every go command reads besides the system's: the SDK copy and a
// toolchain outside /usr.
func (j *job) reads() []string {
	read := []string{}
	if j.sdk != "" {
		read = append(read, j.sdk)
	}
	if d := build.ToolDir(j.o.Go); d != "" {
		read = append(read, d)
	}
	return read
}

// goCmd runs the go command with args in the package's folder. network says it may fetch
// modules. The output has the node's folders replaced by neutral names.
func (j *job) goCmd(ctx context.Context, network bool, args ...string) ([]byte, error) {
	read := j.reads()
	out, err := j.run.Run(ctx, build.Command{
		Path:    j.o.Go,
		Args:    args,
		Env:     j.env,
		Dir:     j.src,
		Read:    read,
		Write:   []string{j.src, j.dst, j.caches.gocache, j.caches.gopath, j.caches.home, j.tmp},
		Network: network,
	})
	return j.scrub(out), err
}

// scrub replaces the build's host folders in out.
func (j *job) scrub(out []byte) []byte {
	names := map[string]string{
		j.src:             ".",
		j.dst:             "$OUT",
		j.caches.gocache:  "$GOCACHE",
		j.caches.modcache: "$GOMODCACHE",
		j.caches.gopath:   "$GOPATH",
		j.caches.home:     "$HOME",
		j.tmp:             "$TMPDIR",
		j.caches.dir:      "$CACHE",
		j.root:            "$CACHE",
	}
	if j.sdk != "" {
		names[j.sdk] = "$SDK"
	}
	if real, err := filepath.EvalSymlinks(j.o.Go); err == nil {
		switch goroot := filepath.Dir(filepath.Dir(real)); goroot {
		case "/", "/usr", "/usr/local":
		default:
			names[goroot] = "$GOROOT"
		}
	}
	return build.Scrub(out, names)
}

// isSource reports whether src holds a Go module or Go files at its root.
func isSource(src string) (bool, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return false, fmt.Errorf("read package: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() && (e.Name() == "go.mod" || strings.HasSuffix(e.Name(), ".go")) {
			return true, nil
		}
	}
	return false, nil
}

// prebuilt copies an uploaded executable bootstrap as it is.
func prebuilt(src, dst string) ([]byte, error) {
	from := filepath.Join(src, Executable)
	fi, err := os.Lstat(from)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("%w: upload a folder with go.mod and a main package, or a linux executable named %s", ErrNothingToRun, Executable)
	}
	if err := copyFile(from, filepath.Join(dst, Executable), 0o755); err != nil {
		return nil, fmt.Errorf("copy %s: %w", Executable, err)
	}
	note := ""
	if !isELF(from) {
		note = " (not an ELF binary: it must still be executable on linux)"
	}
	return fmt.Appendf(nil, "prebuilt %s (%s) taken as it is%s\n", Executable, size(fi.Size()), note), nil
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "\x7fELF"
}

// ensureGoMod gives a package of bare .go files a go.mod for module "function".
func (j *job) ensureGoMod(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(j.src, "go.mod")); err == nil {
		return nil
	}
	ver, err := j.goCmd(ctx, false, "env", "GOVERSION")
	if err != nil {
		return fmt.Errorf("%w: go env GOVERSION: %w: %s", ErrBuild, err, ver)
	}
	lang := strings.TrimPrefix(strings.TrimSpace(string(ver)), "go")
	if parts := strings.SplitN(lang, ".", 3); len(parts) >= 2 {
		lang = parts[0] + "." + parts[1]
	}
	mod := "module function\n\ngo " + lang + "\n"
	if err := os.WriteFile(filepath.Join(j.src, "go.mod"), []byte(mod), 0o644); err != nil {
		return fmt.Errorf("write go.mod: %w", err)
	}
	return nil
}

// environ is the build's whole environment.
func (j *job) environ() []string {
	getenv := j.o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := []string{
		"PATH=" + filepath.Dir(j.o.Go) + ":/usr/bin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + j.caches.home,
		"TMPDIR=" + j.tmp,
		"GOCACHE=" + j.caches.gocache,
		"GOMODCACHE=" + j.caches.modcache,
		"GOPATH=" + j.caches.gopath,
		"GOOS=linux",
		"GOARCH=" + runtime.GOARCH,
		"CGO_ENABLED=0",
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOTELEMETRY=off",
		"GOENV=off",
	}
	for _, k := range passed {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// writeSDK writes the SDK's files into root/<hash of them> once and returns that folder.
func writeSDK(sdk fs.FS, root string) (string, error) {
	files := map[string][]byte{}
	h := sha256.New()
	err := fs.WalkDir(sdk, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sdk, p)
		if err != nil {
			return err
		}
		files[p] = b
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the sdk: %w", err)
	}
	if _, ok := files["go.mod"]; !ok {
		return "", errors.New("the sdk has no go.mod")
	}
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("sdk folder: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".sdk-")
	if err != nil {
		return "", fmt.Errorf("sdk folder: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up on failure
	for p, b := range files {
		f := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return "", fmt.Errorf("sdk folder: %w", err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return "", fmt.Errorf("sdk folder: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("sdk folder: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return dir, nil // another build wrote it first
		}
		return "", fmt.Errorf("sdk folder: %w", err)
	}
	return dir, nil
}

func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
