package archive

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors of bad archives. Every one wraps ErrBadArchive, so callers can answer "bad archive" with
// a single errors.Is and still tell the reasons apart.
var (
	ErrBadArchive   = errors.New("bad archive")
	ErrNotZip       = fmt.Errorf("%w: not a zip file", ErrBadArchive)
	ErrUnsafePath   = fmt.Errorf("%w: unsafe path", ErrBadArchive)
	ErrSymlink      = fmt.Errorf("%w: symlink outside the package", ErrBadArchive)
	ErrTooLarge     = fmt.Errorf("%w: too large unpacked", ErrBadArchive)
	ErrTooManyFiles = fmt.Errorf("%w: too many files", ErrBadArchive)
	ErrDuplicate    = fmt.Errorf("%w: duplicate entry", ErrBadArchive)
)

// Default limits of an unpacked package.
const (
	DefaultMaxUnpacked int64 = 256 << 20
	DefaultMaxFiles          = 10000
)

// Limits bound what a package may unpack to. Zero fields take the defaults.
type Limits struct {
	MaxUnpacked int64 // bytes of all files and symlink targets, really decompressed
	MaxFiles    int   // files and symlinks; directories are not counted
}

func (l Limits) withDefaults() Limits {
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = DefaultMaxUnpacked
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// epoch is the timestamp of every entry sluice writes, so that equal code makes equal archives.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// FromDir zips the folder dir: regular files (0755 when executable, else 0644), directories, and
// symlinks whose target resolves inside dir (stored as relative links). A symlink that points
// outside dir, a broken symlink, or a device, socket or pipe makes it fail. The result is
// deterministic.
func FromDir(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("zip folder %s: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("zip folder %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("zip folder %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("zip folder %s: not a directory: pass a folder, or use a zip file instead", dir)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			h := &zip.FileHeader{Name: name + "/", Method: zip.Store, Modified: epoch}
			h.SetMode(fs.ModeDir | 0o755)
			_, err := zw.CreateHeader(h)
			return err
		case mode&fs.ModeSymlink != 0:
			target, err := linkInside(root, p)
			if err != nil {
				return err
			}
			h := &zip.FileHeader{Name: name, Method: zip.Store, Modified: epoch}
			h.SetMode(fs.ModeSymlink | 0o777)
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, target)
			return err
		case mode.IsRegular():
			return addFile(zw, name, p, mode&0o111 != 0)
		default:
			return fmt.Errorf("%s is a %v, not a regular file: remove it from the folder", name, mode.Type())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("zip folder %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip folder %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

// linkInside returns the target of the symlink p as a slash-separated path relative to the link's
// folder, or ErrSymlink when it resolves outside root.
func linkInside(root, p string) (string, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s -> %s is broken: fix or remove it", ErrSymlink, p, target)
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s -> %s points outside the folder: copy what it points to into the folder instead", ErrSymlink, p, target)
	}
	if filepath.IsAbs(target) {
		if target, err = filepath.Rel(filepath.Dir(p), resolved); err != nil {
			return "", err
		}
	}
	return filepath.ToSlash(target), nil
}

func addFile(zw *zip.Writer, name, p string, exec bool) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
	h.SetMode(fileMode(exec))
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

func fileMode(exec bool) fs.FileMode {
	if exec {
		return 0o755
	}
	return 0o644
}

// FromFile makes a one-file package, for inline code. The file is executable when it is named
// bootstrap (the custom runtime's entry point) or starts with "#!".
func FromFile(name string, content []byte) ([]byte, error) {
	clean, isDir, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("inline file: %w", err)
	}
	if isDir || clean == "" {
		return nil, fmt.Errorf("inline file: %w: %q is not a file name", ErrUnsafePath, name)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: clean, Method: zip.Deflate, Modified: epoch}
	h.SetMode(fileMode(filepathBase(clean) == "bootstrap" || bytes.HasPrefix(content, []byte("#!"))))
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, fmt.Errorf("inline file: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		return nil, fmt.Errorf("inline file: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("inline file: %w", err)
	}
	return buf.Bytes(), nil
}

func filepathBase(slashName string) string {
	if i := strings.LastIndexByte(slashName, '/'); i >= 0 {
		return slashName[i+1:]
	}
	return slashName
}
