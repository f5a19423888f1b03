package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits are small, so that bombs and crowds are reached by small inputs.
var fuzzLimits = Limits{MaxUnpacked: 64 << 10, MaxFiles: 16}

// FuzzExtract feeds arbitrary bytes to Check and Extract as an uploaded package.
func FuzzExtract(f *testing.F) {
	f.Fuzz(func(t *testing.T, z []byte) {
		checkExtract(t, z)
	})
}

// FuzzExtractEntries builds packages from entry lists, so that the fuzzer works on names, kinds
// and link targets rather than on the ZIP format: one entry a line, its kind first (f a file, x
// an executable, d a folder, l a symlink written "lNAME->TARGET", o any other mode), every file
// holding content. lie rewrites the sizes the central directory declares to 10 bytes.
func FuzzExtractEntries(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string, content []byte, lie bool) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		var first string
		for i, line := range strings.Split(spec, "\n") {
			if line == "" {
				continue
			}
			kind, name := line[0], line[1:]
			h := &zip.FileHeader{Name: name, Method: zip.Deflate}
			body := content
			switch kind {
			case 'f':
				h.SetMode(0o644)
			case 'x':
				h.SetMode(0o755)
			case 'd':
				h.SetMode(fs.ModeDir | 0o755)
				body = nil
			case 'l':
				name, target, _ := strings.Cut(name, "->")
				h.Name = name
				h.SetMode(fs.ModeSymlink | 0o777)
				body = []byte(target)
			case 'o':
				h.SetMode(fs.ModeNamedPipe | 0o644)
			default:
				continue
			}
			if i == 0 {
				first = h.Name
			}
			w, err := zw.CreateHeader(h)
			if err != nil {
				return // a name too long for the format
			}
			_, _ = w.Write(body)
		}
		if err := zw.Close(); err != nil {
			return
		}
		z := buf.Bytes()
		if lie && bytes.Contains(z, []byte("PK\x01\x02")) {
			z = lieAboutSizes(t, z)
		}
		checkExtract(t, z)

		if one, err := FromFile(first, content); err == nil {
			dest := filepath.Join(t.TempDir(), "inline")
			if err := Extract(context.Background(), one, dest, Limits{}); err != nil {
				t.Fatalf("FromFile(%q) made a package Extract refuses: %v", first, err)
			}
			clean, _, _ := cleanName(first)
			got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(clean)))
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("FromFile(%q): the file reads %q, %v", first, got, err)
			}
		} else if !errors.Is(err, ErrBadArchive) {
			t.Fatalf("FromFile(%q): %v is not a bad archive", first, err)
		}
	})
}

// checkExtract holds the invariants of Check and Extract on z: they agree; a refusal is
// ErrBadArchive and leaves nothing behind; an extracted package stays within the limits, has
// only the modes sluice writes, and nothing in it, followed through its symlinks, leads
// outside the destination.
func checkExtract(t *testing.T, z []byte) {
	t.Helper()
	checkErr := Check(z, fuzzLimits)
	if checkErr != nil && !errors.Is(checkErr, ErrBadArchive) {
		t.Fatalf("Check: %v is not ErrBadArchive", checkErr)
	}
	parent := t.TempDir()
	dest := filepath.Join(parent, "out")
	err := Extract(context.Background(), z, dest, fuzzLimits)
	if err != nil && !errors.Is(err, ErrBadArchive) {
		t.Fatalf("Extract: %v is not ErrBadArchive (Check: %v)", err, checkErr)
	}
	if (err == nil) != (checkErr == nil) {
		t.Fatalf("Check says %v, Extract says %v", checkErr, err)
	}
	left, _ := os.ReadDir(parent)
	if err != nil {
		if len(left) != 0 {
			t.Fatalf("a refused package left %v behind", left)
		}
		return
	}
	if len(left) != 1 || left[0].Name() != "out" {
		t.Fatalf("Extract wrote %v beside the destination", left)
	}
	var files int
	var size int64
	walkErr := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch mode := fi.Mode(); {
		case mode.IsDir():
			if mode.Perm() != 0o755 {
				t.Errorf("%s: folder mode %v", rel, mode)
			}
		case mode&fs.ModeSymlink != 0:
			files++
			target, _ := os.Readlink(p)
			size += int64(len(target))
		case mode.IsRegular():
			files++
			size += fi.Size()
			if mode.Perm() != 0o644 && mode.Perm() != 0o755 {
				t.Errorf("%s: file mode %v", rel, mode)
			}
		default:
			t.Errorf("%s: a %v", rel, mode.Type())
		}
		if rel != "." && !staysInside(dest, filepath.ToSlash(rel)) {
			t.Errorf("%s leads outside the package", rel)
		}
		return nil
	})
	if walkErr != nil {
		t.Fatal(walkErr)
	}
	if files > fuzzLimits.MaxFiles || size > fuzzLimits.MaxUnpacked {
		t.Fatalf("%d files of %d bytes unpacked, over the limits", files, size)
	}
}

// staysInside follows the slash path rel from root on the file system, symlinks included, and
// reports whether it stays under root. A part that does not exist is taken as a plain name, as a
// later write through it would.
func staysInside(root, rel string) bool {
	var stack []string
	pending := strings.Split(rel, "/")
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
		p := filepath.Join(append([]string{root}, stack...)...)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if hops++; hops > 40 {
			return true // the kernel gives up on a loop too
		}
		target, err := os.Readlink(p)
		if err != nil || filepath.IsAbs(target) {
			return false
		}
		stack = stack[:len(stack)-1]
		pending = append(strings.Split(target, "/"), pending...)
	}
	return true
}

// Found by FuzzExtractEntries: an entry name with a part longer than the file system takes
// passed Check and then failed Extract with an error that was not ErrBadArchive.
func TestOverlongNames(t *testing.T) {
	for _, name := range []string{strings.Repeat("n", 256), "a/" + strings.Repeat("n", 256) + "/b", strings.Repeat("abcdefg/", 300) + "x"} {
		extractFails(t, build(t, zent{name: name, content: "x"}), Limits{}, ErrUnsafePath)
	}
	if err := Check(build(t, zent{name: strings.Repeat("n", 255), content: "x"}), Limits{}); err != nil {
		t.Fatalf("a 255-byte name: %v", err)
	}
}

// Found by FuzzExtractEntries: an entry whose data ends before the size the archive declares
// (or whose deflate data is corrupt) failed with io.ErrUnexpectedEOF (or a flate error), not
// ErrBadArchive, so a corrupt upload read as a failure of the node.
func TestCorruptEntryIsBadArchive(t *testing.T) {
	short := build(t, zent{name: "main.py", content: "x"})
	sig := []byte{'P', 'K', 1, 2}
	i := bytes.Index(short, sig)
	copy(short[i+24:i+28], []byte{10, 0, 0, 0}) // declares 10 bytes, holds 1
	extractFails(t, short, Limits{}, ErrBadArchive)

	corrupt := build(t, zent{name: "main.py", content: strings.Repeat("abc", 100)})
	j := bytes.Index(corrupt, []byte("main.py")) + len("main.py")
	for k := j; k < j+8; k++ { // the start of the deflate data after the local header's name
		corrupt[k] ^= 0xff
	}
	extractFails(t, corrupt, Limits{}, ErrBadArchive)
}
