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

type zent struct {
	name    string
	mode    fs.FileMode
	content string
}

func build(t *testing.T, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// extractFails checks that both Check and Extract refuse z with want and that nothing is written.
func extractFails(t *testing.T, z []byte, l Limits, want error) {
	t.Helper()
	if err := Check(z, l); !errors.Is(err, want) || !errors.Is(err, ErrBadArchive) {
		t.Fatalf("Check = %v, want %v", err, want)
	}
	parent := t.TempDir()
	dest := filepath.Join(parent, "out")
	err := Extract(context.Background(), z, dest, l)
	if !errors.Is(err, want) {
		t.Fatalf("Extract = %v, want %v", err, want)
	}
	left, _ := os.ReadDir(parent)
	if len(left) != 0 {
		t.Fatalf("a failed Extract left %v behind", left)
	}
}

func TestExtractGood(t *testing.T) {
	z := build(t,
		zent{name: "main.py", mode: 0o644, content: "def handler(e, c): return e\n"},
		zent{name: "bin/", mode: fs.ModeDir | 0o755},
		zent{name: "bin/run", mode: 0o755, content: "#!/bin/sh\n"},
		zent{name: "./lib/a.txt", content: "a"},
		zent{name: "empty/", mode: fs.ModeDir | 0o755},
		zent{name: "lib/link", mode: fs.ModeSymlink | 0o777, content: "a.txt"},
		zent{name: "up", mode: fs.ModeSymlink | 0o777, content: "lib/../main.py"},
	)
	if err := Check(z, Limits{}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "deep", "code")
	if err := Extract(context.Background(), z, dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]fs.FileMode{"main.py": 0o644, "bin/run": 0o755, "lib/a.txt": 0o644} {
		fi, err := os.Stat(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dest, "lib/link")); err != nil || string(b) != "a" {
		t.Fatalf("symlink read = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty dir: %v", err)
	}
	// A second extract into an existing non-empty destination is refused.
	if err := Extract(context.Background(), z, dest, Limits{}); err == nil {
		t.Fatal("extract over a full destination succeeded")
	}
}

func TestNotZip(t *testing.T) {
	extractFails(t, []byte("this is not a zip file at all"), Limits{}, ErrNotZip)
	extractFails(t, nil, Limits{}, ErrNotZip)
}

func TestZipSlip(t *testing.T) {
	for _, name := range []string{"../evil", "a/../../evil", "/etc/passwd", `..\evil`, `a\..\..\evil`, "C:/evil", "c:evil", "a/../b"} {
		t.Run(name, func(t *testing.T) {
			extractFails(t, build(t, zent{name: "ok.txt", content: "x"}, zent{name: name, content: "x"}), Limits{}, ErrUnsafePath)
		})
	}
}

func TestSymlinkOut(t *testing.T) {
	cases := map[string][]zent{
		"absolute":  {{name: "l", mode: fs.ModeSymlink | 0o777, content: "/etc/passwd"}},
		"dotdot":    {{name: "a/l", mode: fs.ModeSymlink | 0o777, content: "../../etc/passwd"}},
		"backslash": {{name: "l", mode: fs.ModeSymlink | 0o777, content: `..\x`}},
		// "b" looks lexically inside but resolves through "a" -> "." to the parent.
		"chained": {
			{name: "a", mode: fs.ModeSymlink | 0o777, content: "."},
			{name: "b", mode: fs.ModeSymlink | 0o777, content: "a/.."},
		},
		"loop": {
			{name: "a", mode: fs.ModeSymlink | 0o777, content: "b"},
			{name: "b", mode: fs.ModeSymlink | 0o777, content: "a"},
		},
		"file under link": {
			{name: "d", mode: fs.ModeSymlink | 0o777, content: "sub"},
			{name: "sub/", mode: fs.ModeDir | 0o755},
			{name: "d/x", content: "x"},
		},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) { extractFails(t, build(t, ents...), Limits{}, ErrSymlink) })
	}
}

func TestBomb(t *testing.T) {
	// 64 MiB of zeros compress to about 64 KiB.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("zeros")
	zero := make([]byte, 1<<20)
	for range 64 {
		_, _ = w.Write(zero)
	}
	_ = zw.Close()
	z := buf.Bytes()
	if len(z) > 1<<20 {
		t.Fatalf("bomb is %d bytes, expected it to compress well", len(z))
	}
	extractFails(t, z, Limits{MaxUnpacked: 1 << 20}, ErrTooLarge)

	// The same bomb with sizes that lie (10 bytes declared): refused while reading, as soon as the
	// real bytes pass the declared size, whatever the limit.
	liar := lieAboutSizes(t, z)
	extractFails(t, liar, Limits{MaxUnpacked: 1 << 20}, ErrBadArchive)
	extractFails(t, liar, Limits{}, ErrBadArchive)
}

// lieAboutSizes rewrites the uncompressed size of every central-directory record to 10 bytes.
func lieAboutSizes(t *testing.T, z []byte) []byte {
	t.Helper()
	out := bytes.Clone(z)
	sig := []byte{'P', 'K', 1, 2}
	n := 0
	for i := bytes.Index(out, sig); i >= 0; {
		copy(out[i+24:i+28], []byte{10, 0, 0, 0})
		n++
		j := bytes.Index(out[i+4:], sig)
		if j < 0 {
			break
		}
		i += 4 + j
	}
	if n == 0 {
		t.Fatal("no central directory record found")
	}
	return out
}

func TestTooManyFiles(t *testing.T) {
	var ents []zent
	for i := range 11 {
		ents = append(ents, zent{name: "f" + strings.Repeat("x", i), content: "x"})
	}
	extractFails(t, build(t, ents...), Limits{MaxFiles: 10}, ErrTooManyFiles)
	if err := Check(build(t, ents[:10]...), Limits{MaxFiles: 10}); err != nil {
		t.Fatalf("10 files under a limit of 10: %v", err)
	}
}

func TestDuplicate(t *testing.T) {
	extractFails(t, build(t, zent{name: "a.py", content: "1"}, zent{name: "./a.py", content: "2"}), Limits{}, ErrDuplicate)
	extractFails(t, build(t, zent{name: "a", content: "1"}, zent{name: "a/b", content: "2"}), Limits{}, ErrDuplicate)
}

func TestFromDirRoundTrip(t *testing.T) {
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "pkg", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "main.py"), []byte("print(1)\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "bootstrap"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(src, "pkg", "sub", "x.txt"), []byte("x"), 0o600))
	must(os.Symlink("sub/x.txt", filepath.Join(src, "pkg", "link")))
	must(os.Symlink(filepath.Join(src, "main.py"), filepath.Join(src, "abs-inside")))

	z1, err := FromDir(src)
	must(err)
	z2, err := FromDir(src)
	must(err)
	if !bytes.Equal(z1, z2) {
		t.Fatal("FromDir is not deterministic")
	}
	dest := filepath.Join(t.TempDir(), "out")
	must(Extract(context.Background(), z1, dest, Limits{}))
	if fi, err := os.Stat(filepath.Join(dest, "bootstrap")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bootstrap: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "pkg/sub/x.txt")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("x.txt: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "pkg/link")); err != nil || string(b) != "x" {
		t.Fatalf("pkg/link = %q %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(dest, "abs-inside")); err != nil || target != "main.py" {
		t.Fatalf("absolute link inside was stored as %q, %v; want main.py", target, err)
	}

	outside := filepath.Join(t.TempDir(), "secret")
	must(os.WriteFile(outside, []byte("s"), 0o644))
	must(os.Symlink(outside, filepath.Join(src, "leak")))
	if _, err := FromDir(src); !errors.Is(err, ErrSymlink) {
		t.Fatalf("FromDir with a link outside = %v, want ErrSymlink", err)
	}
}

func TestFromFile(t *testing.T) {
	z, err := FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if err := Extract(context.Background(), z, dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "main.py")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("main.py: %v %v", fi, err)
	}
	z, _ = FromFile("bootstrap", []byte("echo"))
	r, _ := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if r.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("bootstrap mode = %v", r.File[0].Mode())
	}
	for _, bad := range []string{"", "../x.py", "/x.py", "dir/"} {
		if _, err := FromFile(bad, []byte("x")); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("FromFile(%q) = %v, want ErrUnsafePath", bad, err)
		}
	}
}
