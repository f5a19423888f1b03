package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFuzzDirsFindsTargetsButNotTestdata(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/x_fuzz_test.go", "package a\n\nfunc FuzzX(f *testing.F) {}\n")
	write("b/y_test.go", "package b\n\nfunc TestY(t *testing.T) {}\n// func FuzzNotAtLineStart\n")
	write("c/testdata/z_test.go", "package z\n\nfunc FuzzZ(f *testing.F) {}\n")
	write(".hidden/w_test.go", "package w\n\nfunc FuzzW(f *testing.F) {}\n")
	write("d/first_test.go", "func FuzzFirst(f *testing.F) {}\n")
	dirs, err := fuzzDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "a"), filepath.Join(root, "d")}
	if !slices.Equal(dirs, want) {
		t.Errorf("fuzzDirs = %v, want %v", dirs, want)
	}
}

func TestDeadlineOnly(t *testing.T) {
	for _, c := range []struct {
		out  string
		want bool
	}{
		{"fuzz: elapsed: 4s\n--- FAIL: FuzzX (4.01s)\n    context deadline exceeded\nFAIL\n", true},
		{"--- FAIL: FuzzX (0.2s)\n    --- FAIL: FuzzX/seed#0 (0.00s)\n    context deadline exceeded\n", false},
		{"--- FAIL: FuzzX (0.2s)\n    panic: boom\n", false},
	} {
		if got := deadlineOnly(c.out, "FuzzX"); got != c.want {
			t.Errorf("deadlineOnly(%q) = %v, want %v", c.out, got, c.want)
		}
	}
}

func TestUnknownTaskFailsNamingIt(t *testing.T) {
	r := &runner{done: map[string]bool{}, tasks: catalogue()}
	if err := r.need(context.Background(), "no-such-task"); err == nil || !strings.Contains(err.Error(), `"no-such-task"`) {
		t.Errorf("an unknown task: %v, want an error naming it", err)
	}
	if code := run(context.Background(), []string{"no-such-task"}); code == 0 {
		t.Error("an unknown task exited 0")
	}
	if code := run(context.Background(), []string{"--no-such-flag"}); code != 2 {
		t.Errorf("an unknown flag exited %d, want 2", code)
	}
}

func TestRunnerRunsANeededTaskOnce(t *testing.T) {
	var ran []string
	step := func(name string) func(context.Context, *runner) error {
		return func(context.Context, *runner) error { ran = append(ran, name); return nil }
	}
	r := &runner{done: map[string]bool{}, tasks: map[string]task{
		"build": {run: step("build")},
		"lint":  {run: step("lint")},
		"test":  {needs: []string{"build", "lint"}, run: step("test")},
		"bench": {needs: []string{"build"}, run: step("bench")},
	}}
	for _, name := range []string{"test", "bench"} {
		if err := r.need(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"build", "lint", "test", "bench"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
}
