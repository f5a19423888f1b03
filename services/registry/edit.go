package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
)

// MaxEditBytes bounds one file read or written through File and EditFile: what a code editor
// loads and saves, not a package.
const MaxEditBytes = 2 << 20

// ErrFileNotFound is returned by File for a path the package does not hold.
var ErrFileNotFound = fmt.Errorf("file %w", ErrNotFound)

// Files lists the files of version n's package (the uploaded source when the version was built),
// by path; folders are left out. n = 0 is the latest version.
func (r *Registry) Files(ctx context.Context, name string, n int) (events.Version, []wire.FileInfo, error) {
	v, zr, err := r.openSource(ctx, name, n)
	if err != nil {
		return v, nil, err
	}
	var out []wire.FileInfo
	for _, f := range zr.File {
		p, mode := entryName(f.Name), f.Mode()
		if p == "" || mode.IsDir() || strings.HasSuffix(f.Name, "/") {
			continue
		}
		out = append(out, wire.FileInfo{
			Path: p, Size: int64(f.UncompressedSize64),
			Executable: mode.IsRegular() && mode&0o111 != 0, Symlink: mode&fs.ModeSymlink != 0,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return v, out, nil
}

// File returns one file of version n's package (n = 0: the latest), at most MaxEditBytes.
func (r *Registry) File(ctx context.Context, name string, n int, file string) (events.Version, []byte, error) {
	target, err := cleanFile(file)
	if err != nil {
		return events.Version{}, nil, err
	}
	v, zr, err := r.openSource(ctx, name, n)
	if err != nil {
		return v, nil, err
	}
	for _, f := range zr.File {
		if entryName(f.Name) != target || f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") {
			continue
		}
		if !f.Mode().IsRegular() {
			return v, nil, fmt.Errorf("%w: %s in version %d of %s is a symlink, not a file", ErrInvalid, target, v.Version, name)
		}
		rc, err := f.Open()
		if err != nil {
			return v, nil, fmt.Errorf("read %s: %w", target, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, MaxEditBytes+1))
		if err != nil {
			return v, nil, fmt.Errorf("read %s: %w", target, err)
		}
		if len(b) > MaxEditBytes {
			return v, nil, fmt.Errorf("%w: %s is larger than %d bytes: download the package instead", ErrInvalid, target, MaxEditBytes)
		}
		return v, b, nil
	}
	return v, nil, fmt.Errorf("%w: %s is not in version %d of %s (list the files with GET /v1/functions/%s/code)", ErrFileNotFound, target, v.Version, name, name)
}

// EditFile makes a new version of the function whose package is the latest version's (its
// uploaded source when it was built) with file replaced by content, or added when it is new; the
// settings stay the same. The file keeps its mode when it existed. base, when not 0, is the
// version the edit was made on: if the latest is another one, the edit is refused with
// ErrConflict rather than silently dropping what changed in between (checked before the new
// version is made).
func (r *Registry) EditFile(ctx context.Context, name, file string, content []byte, base int) (events.Version, error) {
	if len(content) > MaxEditBytes {
		return events.Version{}, fmt.Errorf("%w: %s is %d bytes: the limit of one edited file is %d; upload a package instead", ErrInvalid, file, len(content), MaxEditBytes)
	}
	target, err := cleanFile(file)
	if err != nil {
		return events.Version{}, err
	}
	// archive.FromFile checks the name again as archives are checked and gives the new entry.
	one, err := archive.FromFile(target, content)
	if err != nil {
		return events.Version{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	oneZR, err := zip.NewReader(bytes.NewReader(one), int64(len(one)))
	if err != nil || len(oneZR.File) != 1 {
		return events.Version{}, fmt.Errorf("edit %s: package the file: %v", name, err)
	}
	added := oneZR.File[0]

	v, zr, err := r.openSource(ctx, name, 0)
	if err != nil {
		return events.Version{}, err
	}
	if base != 0 && base != v.Version {
		return events.Version{}, fmt.Errorf("%w: the edit was made on version %d of %s, but the latest is %d: reload the file and edit again", ErrConflict, base, name, v.Version)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	replaced := false
	for _, f := range zr.File {
		p := entryName(f.Name)
		switch {
		case p == target && (f.Mode().IsDir() || strings.HasSuffix(f.Name, "/")):
			return events.Version{}, fmt.Errorf("%w: %s is a folder in the package: name a file", ErrInvalid, target)
		case p == target && !f.Mode().IsRegular():
			return events.Version{}, fmt.Errorf("%w: %s is a symlink in the package: edit what it points to", ErrInvalid, target)
		case p == target:
			replaced = true
			h := &zip.FileHeader{Name: target, Method: zip.Deflate, Modified: f.Modified}
			h.SetMode(f.Mode() | added.Mode()&0o111)
			w, err := zw.CreateHeader(h)
			if err == nil {
				_, err = w.Write(content)
			}
			if err != nil {
				return events.Version{}, fmt.Errorf("edit %s: %w", name, err)
			}
		case strings.HasPrefix(p, target+"/"):
			return events.Version{}, fmt.Errorf("%w: %s is a folder in the package: name a file", ErrInvalid, target)
		default:
			if err := zw.Copy(f); err != nil {
				return events.Version{}, fmt.Errorf("edit %s: copy %s: %w", name, p, err)
			}
		}
	}
	if !replaced {
		if err := zw.Copy(added); err != nil {
			return events.Version{}, fmt.Errorf("edit %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return events.Version{}, fmt.Errorf("edit %s: %w", name, err)
	}
	ref, err := r.PutCode(ctx, buf.Bytes())
	if err != nil {
		return events.Version{}, fmt.Errorf("edit %s: %w", name, err)
	}
	return r.DeployFrom(ctx, name, v.Config, ref, fmt.Sprintf("edit of %s on version %d", target, v.Version))
}

// openSource reads the source package of version n (0: the latest).
func (r *Registry) openSource(ctx context.Context, name string, n int) (events.Version, *zip.Reader, error) {
	if n == 0 {
		head, err := r.Function(ctx, name)
		if err != nil {
			return events.Version{}, nil, err
		}
		n = head.Latest
	}
	v, err := r.Version(ctx, name, n)
	if err != nil {
		return v, nil, err
	}
	b, err := r.Code(ctx, v.Source().SHA256)
	if err != nil {
		return v, nil, fmt.Errorf("function %s version %d: %w", name, v.Version, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return v, nil, fmt.Errorf("function %s version %d: %w: %w", name, v.Version, archive.ErrNotZip, err)
	}
	return v, zr, nil
}

// cleanFile checks a file path given to File or EditFile and returns it cleaned: relative,
// slash-separated, inside the package.
func cleanFile(file string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: file %q %s: use a relative path inside the package, like main.py or lib/util.py", ErrInvalid, file, why)
	}
	switch {
	case strings.TrimSpace(file) == "":
		return "", bad("is empty")
	case len(file) > 1024:
		return "", bad("is too long")
	case strings.ContainsAny(file, "\x00\\"):
		return "", bad("holds a NUL or a backslash")
	case strings.HasPrefix(file, "/"):
		return "", bad("is absolute")
	case strings.HasSuffix(file, "/"):
		return "", bad("names a folder")
	}
	for _, part := range strings.Split(file, "/") {
		if part == ".." {
			return "", bad("climbs out with ..")
		}
	}
	clean := path.Clean(file)
	if clean == "." {
		return "", bad("names the package's root")
	}
	return clean, nil
}

// entryName is a stored entry's path in the form archive.FromFile writes: slash-separated,
// relative, without "./" or a trailing slash. Stored packages passed archive.Check, so their
// names are safe.
func entryName(raw string) string {
	p := path.Clean("/" + strings.ReplaceAll(raw, `\`, "/"))
	return strings.TrimPrefix(p, "/")
}
