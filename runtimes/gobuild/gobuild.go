package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
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

// maxOutput caps the build output kept (the go command's; a huge error list is cut).
const maxOutput = 64 << 10

// Options configure a build.
type Options struct {
	Go       string              // the go command, an absolute path; "" when the node has none
	CacheDir string              // where Go's caches and the SDK copy live; made when missing
	SDK      fs.FS               // the SDK module's files (go.mod at its root); nil for none
	Getenv   func(string) string // the node's environment, for GOPROXY and the like; os.Getenv when nil
}

// passed are the node's variables a build sees, when set.
var passed = []string{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"}

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
	cache, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	env := o.environ(cache)
	if err := ensureGoMod(ctx, o.Go, env, src); err != nil {
		return nil, err
	}
	if o.SDK != nil {
		sdk, err := writeSDK(o.SDK, filepath.Join(cache, "sdk"))
		if err != nil {
			return nil, err
		}
		if out, err := run(ctx, o.Go, env, src, "mod", "edit", "-replace="+SDKModule+"="+sdk); err != nil {
			return out, fmt.Errorf("%w: point go.mod at the sdk: %w", ErrBuild, err)
		}
	}
	bin := filepath.Join(dst, Executable)
	out, err := run(ctx, o.Go, env, src, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
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
	out = append(out, fmt.Sprintf("go build: %s %s for linux/%s in %s\n",
		Executable, size(fi.Size()), runtime.GOARCH, time.Since(started).Round(time.Millisecond))...)
	return out, nil
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
func ensureGoMod(ctx context.Context, gobin string, env []string, src string) error {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
		return nil
	}
	ver, err := run(ctx, gobin, env, src, "env", "GOVERSION")
	if err != nil {
		return fmt.Errorf("%w: go env GOVERSION: %w: %s", ErrBuild, err, ver)
	}
	lang := strings.TrimPrefix(strings.TrimSpace(string(ver)), "go")
	if parts := strings.SplitN(lang, ".", 3); len(parts) >= 2 {
		lang = parts[0] + "." + parts[1]
	}
	mod := "module function\n\ngo " + lang + "\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
		return fmt.Errorf("write go.mod: %w", err)
	}
	return nil
}

// environ is the build's whole environment.
func (o Options) environ(cache string) []string {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := []string{
		"PATH=" + filepath.Dir(o.Go) + ":/usr/bin:/bin",
		"HOME=" + filepath.Join(cache, "home"),
		"GOCACHE=" + filepath.Join(cache, "go-build"),
		"GOMODCACHE=" + filepath.Join(cache, "gopath", "pkg", "mod"),
		"GOPATH=" + filepath.Join(cache, "gopath"),
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

// run runs the go command in dir in its own process group, killed whole when ctx ends, and
// returns its combined output, capped.
func run(ctx context.Context, gobin string, env []string, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.bytes(), err
}

// capped keeps the first maxOutput bytes written and counts the rest.
type capped struct {
	b       bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	room := maxOutput - c.b.Len()
	if room < len(p) {
		c.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	c.b.Write(p)
	return n, nil
}

func (c *capped) bytes() []byte {
	if c.dropped == 0 {
		return c.b.Bytes()
	}
	return fmt.Appendf(c.b.Bytes(), "\n... %d more bytes of output left out\n", c.dropped)
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
