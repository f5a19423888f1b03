package catalog

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// compileTimeout bounds compiling a bootstrap at New.
const compileTimeout = 2 * time.Minute

// compiledBootstrap returns a compiled bootstrap's bytes: from the cache when the same sources
// were compiled with the same toolchain before (keyed by key), else made by compile in a fresh
// temporary folder and then kept in the cache. A cache that cannot be read or written only
// costs the compilation.
func compiledBootstrap(name string, key []string, compile func(ctx context.Context, tmp string) (out string, err error)) ([]byte, error) {
	h := sha256.New()
	for _, k := range key {
		fmt.Fprintf(h, "%d:%s\n", len(k), k)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:24]
	var cached string
	if dir, err := os.UserCacheDir(); err == nil {
		cached = filepath.Join(dir, "sluice", "bootstrap", name+"-"+sum)
		if b, err := os.ReadFile(cached); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	tmp, err := os.MkdirTemp("", "sluice-compile-")
	if err != nil {
		return nil, fmt.Errorf("compile bootstrap: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	out, err := compile(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("compile bootstrap: %w", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("compile bootstrap: %w", err)
	}
	if cached != "" && os.MkdirAll(filepath.Dir(cached), 0o755) == nil {
		_ = writeFile(cached, string(b))
	}
	return b, nil
}

// run runs a toolchain command and returns its combined output.
func run(ctx context.Context, dir string, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// sibling finds tool next to the real file of interp (javac beside java), else on PATH.
func sibling(interp, tool string) (string, error) {
	if real, err := filepath.EvalSymlinks(interp); err == nil {
		p := filepath.Join(filepath.Dir(real), tool)
		if executable(p) == nil {
			return p, nil
		}
	}
	return exec.LookPath(tool)
}

// embedded reads every file at the top of fsys: their names and contents as a cache key (in
// fs.ReadDir's order, by name) and the files by name.
func embedded(fsys fs.FS) ([]string, map[string][]byte, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, err
	}
	var key []string
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, nil, err
		}
		key = append(key, e.Name(), string(b))
		files[e.Name()] = b
	}
	return key, files, nil
}

// zipDir writes the files under dir into a new zip (a jar) at path.
func zipDir(dir, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyTree copies the files under src into dst (which exists), skipping those skip names.
func copyTree(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular() || skip(rel):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// filesWithSuffix lists the files under dir whose names end in suffix, relative to dir.
func filesWithSuffix(dir, suffix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), suffix) {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// stageSources prepares a deploy-time compile: it copies everything of the package but its ext
// sources into dst, where the compiled output joins them, and lists those sources. A package
// without any runs as uploaded, which note says.
func stageSources(src, dst, ext, asUploaded string) (sources []string, note []byte, err error) {
	sources, err = filesWithSuffix(src, ext)
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	if err := copyTree(src, dst, func(rel string) bool { return strings.HasSuffix(rel, ext) }); err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	if len(sources) == 0 {
		return nil, []byte("no " + ext + " sources: " + asUploaded + "\n"), nil
	}
	return sources, nil, nil
}
