package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

type kind int

const (
	kindDir kind = iota
	kindFile
	kindLink
)

// entry is one checked zip entry.
type entry struct {
	f      *zip.File
	name   string // slash-separated, relative, cleaned, no trailing slash
	kind   kind
	exec   bool
	target string // symlink target
}

// Check verifies that zip is a package Extract would accept under l, decompressing every entry
// to count its real size (bounded by l, so it is safe on hostile input). It writes nothing.
func Check(zipData []byte, l Limits) error {
	_, err := open(context.Background(), zipData, l, func(e entry, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	return err
}

// Extract unpacks zip into dest, which must not exist yet (an empty directory is replaced). The
// parent of dest is created if needed. Files are written 0644, or 0755 when executable in the
// archive; directories 0755. Everything is unpacked into a temporary directory beside dest first
// and renamed into place at the end, so on any error nothing is left behind.
func Extract(ctx context.Context, zipData []byte, dest string, l Limits) (err error) {
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if fi, err := os.Stat(dest); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("extract: destination %s exists and is not a directory", dest)
		}
		if err := os.Remove(dest); err != nil {
			return fmt.Errorf("extract: destination %s exists and is not empty: %w", dest, err)
		}
	}
	tmp, err := os.MkdirTemp(parent, ".extract-*")
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	entries, err := open(ctx, zipData, l, func(e entry, r io.Reader) error {
		p := filepath.Join(tmp, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := fileMode(e.exec)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Chmod(mode); err != nil { // the umask may have narrowed it
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	// Directories and then symlinks, after every file: no file is ever written through a link.
	for _, e := range entries {
		if e.kind == kindDir {
			if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(e.name)), 0o755); err != nil {
				return fmt.Errorf("extract: %w", err)
			}
		}
	}
	for _, e := range entries {
		if e.kind != kindLink {
			continue
		}
		p := filepath.Join(tmp, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		if err := os.Symlink(filepath.FromSlash(e.target), p); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

// open validates the whole archive's structure, then streams every regular file through each,
// counting the real decompressed bytes against the limit. It returns the checked entries.
func open(ctx context.Context, zipData []byte, l Limits, each func(entry, io.Reader) error) ([]entry, error) {
	l = l.withDefaults()
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names are refused below, with their name
		return nil, fmt.Errorf("%w (%v): upload a .zip file (zip -r code.zip .) or deploy a folder", ErrNotZip, err)
	}
	budget := &budget{left: l.MaxUnpacked, limit: l.MaxUnpacked}
	entries, err := scan(zr, l, budget)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.kind != kindFile {
			continue
		}
		rc, err := e.f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: entry %q: %v", ErrBadArchive, e.name, err)
		}
		err = each(e, &countingReader{ctx: ctx, r: rc, b: budget, name: e.name})
		rc.Close()
		if err != nil {
			if errors.Is(err, ErrBadArchive) || errors.Is(err, ctx.Err()) {
				return nil, err
			}
			if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) {
				return nil, fmt.Errorf("%w: entry %q: %v", ErrBadArchive, e.name, err)
			}
			return nil, err
		}
	}
	return entries, nil
}

type budget struct{ left, limit int64 }

func (b *budget) take(n int64, name string) error {
	b.left -= n
	if b.left < 0 {
		return fmt.Errorf("%w: more than %d bytes unpacked at %q: make the package smaller (leave out tests, caches, dev dependencies)", ErrTooLarge, b.limit, name)
	}
	return nil
}

// countingReader charges every byte really read to the budget and stops at the limit, whatever
// size the archive declared.
type countingReader struct {
	ctx  context.Context
	r    io.Reader
	b    *budget
	name string
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > c.b.left+1 {
		p = p[:c.b.left+1]
	}
	n, err := c.r.Read(p)
	if berr := c.b.take(int64(n), c.name); berr != nil {
		return 0, berr
	}
	if err != nil && err != io.EOF { // a corrupt entry: fewer bytes than declared, bad deflate data
		err = fmt.Errorf("%w: entry %q: %w", ErrBadArchive, c.name, err)
	}
	return n, err
}

// scan checks names, kinds, duplicates, symlink targets and counts, before anything is unpacked.
func scan(zr *zip.Reader, l Limits, b *budget) ([]entry, error) {
	var (
		entries  = make([]entry, 0, len(zr.File))
		seen     = make(map[string]kind, len(zr.File))
		links    = map[string]string{}
		files    int
		declared uint64
	)
	for _, f := range zr.File {
		name, isDir, err := cleanName(f.Name)
		if err != nil {
			return nil, err
		}
		mode := f.Mode()
		e := entry{f: f, name: name}
		switch {
		case isDir || mode.IsDir():
			if name == "" {
				continue // "./"
			}
			e.kind = kindDir
		case mode&fs.ModeSymlink != 0:
			e.kind = kindLink
		case mode.IsRegular():
			e.kind, e.exec = kindFile, mode&0o111 != 0
		default:
			return nil, fmt.Errorf("%w: entry %q is a %v, not a file, folder or symlink", ErrBadArchive, f.Name, mode.Type())
		}
		if name == "" {
			return nil, fmt.Errorf("%w: entry %q has no name", ErrUnsafePath, f.Name)
		}
		if _, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: %q appears twice: rebuild the zip from a folder", ErrDuplicate, name)
		}
		seen[name] = e.kind
		if e.kind != kindDir {
			files++
			if files > l.MaxFiles {
				return nil, fmt.Errorf("%w: more than %d files: make the package smaller (leave out tests, caches, dev dependencies)", ErrTooManyFiles, l.MaxFiles)
			}
			declared += f.UncompressedSize64
			if declared > uint64(l.MaxUnpacked) {
				return nil, fmt.Errorf("%w: entries declare more than %d bytes: make the package smaller (leave out tests, caches, dev dependencies)", ErrTooLarge, l.MaxUnpacked)
			}
		}
		if e.kind == kindLink {
			target, err := readLink(f, b)
			if err != nil {
				return nil, err
			}
			e.target = target
			links[name] = target
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		parts := strings.Split(e.name, "/")
		for i := 1; i < len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			switch seen[prefix] {
			case kindFile:
				return nil, fmt.Errorf("%w: %q is a file and also a folder holding %q", ErrDuplicate, prefix, e.name)
			case kindLink:
				return nil, fmt.Errorf("%w: entry %q lies under the symlink %q", ErrSymlink, e.name, prefix)
			}
		}
		if e.kind == kindLink {
			if !resolvesInside(dirOf(e.name)+e.target, links) {
				return nil, fmt.Errorf("%w: %q -> %q leads outside the package: include the file itself instead", ErrSymlink, e.name, e.target)
			}
		}
	}
	return entries, nil
}

func dirOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i+1]
	}
	return ""
}

func readLink(f *zip.File, b *budget) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("%w: symlink %q: %v", ErrBadArchive, f.Name, err)
	}
	defer rc.Close()
	t, err := io.ReadAll(io.LimitReader(rc, 4097))
	if err != nil {
		return "", fmt.Errorf("%w: symlink %q: %v", ErrBadArchive, f.Name, err)
	}
	if len(t) == 0 || len(t) > 4096 {
		return "", fmt.Errorf("%w: symlink %q has an empty or overlong target", ErrSymlink, f.Name)
	}
	if err := b.take(int64(len(t)), f.Name); err != nil {
		return "", err
	}
	target := string(t)
	if strings.ContainsAny(target, "\\\x00") || strings.HasPrefix(target, "/") || hasDrive(target) {
		return "", fmt.Errorf("%w: %q -> %q is absolute or uses backslashes: use a relative link", ErrSymlink, f.Name, target)
	}
	return target, nil
}

// resolvesInside follows a slash path from the package root through the package's own symlinks,
// as the kernel would after extraction, and reports whether it stays inside the root.
func resolvesInside(p string, links map[string]string) bool {
	var stack []string
	pending := strings.Split(p, "/")
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, c)
		t, ok := links[strings.Join(stack, "/")]
		if !ok {
			continue
		}
		if hops++; hops > 40 {
			return false // a loop
		}
		stack = stack[:len(stack)-1]
		pending = append(strings.Split(t, "/"), pending...)
	}
	return true
}

func hasDrive(s string) bool {
	return len(s) >= 2 && s[1] == ':' && (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z')
}

// Longest entry names: a file system takes 255 bytes a name, and a whole path of at most 4096
// bytes must still hold the destination.
const (
	maxNamePart = 255
	maxName     = 2048
)

// cleanName checks a raw entry name and returns it slash-separated without "." parts or a
// trailing slash; isDir reports a trailing slash.
func cleanName(raw string) (name string, isDir bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: entry %q %s: rebuild the zip from the folder itself (cd dir && zip -r ../code.zip .)", ErrUnsafePath, raw, why)
	}
	switch {
	case raw == "":
		return bad("has no name")
	case strings.ContainsRune(raw, '\\'):
		return bad("contains a backslash")
	case strings.ContainsRune(raw, 0):
		return bad("contains a NUL byte")
	case strings.HasPrefix(raw, "/"):
		return bad("is an absolute path")
	case hasDrive(raw):
		return bad("starts with a drive letter")
	}
	isDir = strings.HasSuffix(raw, "/")
	var parts []string
	for _, p := range strings.Split(raw, "/") {
		switch {
		case p == "" || p == ".":
		case p == "..":
			return bad("climbs out with ..")
		case len(p) > maxNamePart:
			return bad(fmt.Sprintf("has a part longer than %d bytes", maxNamePart))
		default:
			parts = append(parts, p)
		}
	}
	if len(raw) > maxName {
		return bad(fmt.Sprintf("is longer than %d bytes", maxName))
	}
	return strings.Join(parts, "/"), isDir, nil
}
