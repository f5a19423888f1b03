// Package codetest lays out function code for the runtimes' tests as a deploy does: fixture
// folders copied with the modes the code cache gives (folders 0755, files 0644, executables
// 0755, so the sandbox's unprivileged uid can read them), and compares JSON answers by value.
package codetest

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// CopyTree copies the folder src to dst as a deploy unpacks a package.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, readable(info.Mode()))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// MakeReadable gives a folder made in place (a build's output) the same modes.
func MakeReadable(t testing.TB, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(p, readable(info.Mode()))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readable(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// JSONEqual reports whether two JSON texts hold the same value; a text that is not JSON fails
// the test.
func JSONEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(x, y)
}
