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

	"sluice.dev/runtimes/build"
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

// toolEnv is the whole environment of a toolchain command: the tool's folder first on PATH, a
// UTF-8 locale, and home as HOME and TMPDIR. Nothing of the node's environment is passed on
// (JAVA_TOOL_OPTIONS, MONO_OPTIONS and the like would change what the tool does).
func toolEnv(tool, home string) []string {
	return []string{"PATH=" + filepath.Dir(tool) + ":/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + home, "TMPDIR=" + home}
}

// buildDirs makes a build's temporary folders inside a new folder (removed by the caller):
// in, for what the tool reads besides the package (an API to compile against, an argument
// file), and home, which it may write (HOME, TMPDIR).
func buildDirs(prefix string) (tmp, in, home string, err error) {
	if tmp, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", "", fmt.Errorf("build: %w", err)
	}
	in, home = filepath.Join(tmp, "in"), filepath.Join(tmp, "home")
	for _, d := range []string{in, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", "", "", fmt.Errorf("build: %w", err)
		}
	}
	return tmp, in, home, nil
}

// readDirs is Command.Read of a build: dirs, and the toolchain's root when it lies outside the
// system folders.
func readDirs(tool string, dirs ...string) []string {
	if d := build.ToolDir(tool); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}

// scrub replaces a build's host folders in out: the sources' folder by nothing (paths under it
// become relative), the output folder by $OUT and the build's temporary folder by $TMP.
func scrub(out []byte, j buildJob, tmp string) []byte {
	return build.Scrub(out, map[string]string{j.src: ".", j.dst: "$OUT", tmp: "$TMP"})
}

// refuseNames refuses a package holding a name a toolchain would read as an option.
func refuseNames(src string) error {
	if err := build.CheckNames(src); err != nil {
		return fmt.Errorf("%w: %w", ErrBuild, err)
	}
	return nil
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
