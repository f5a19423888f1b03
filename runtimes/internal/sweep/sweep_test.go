package sweep

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// Only folders named after a process that ended are handed to remove.
func TestDead(t *testing.T) {
	dir := t.TempDir()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	names := []string{
		fmt.Sprintf("x-%d-1", ended.Process.Pid), // ended: removed
		fmt.Sprintf("x-%d-2", os.Getpid()),       // this process
		fmt.Sprintf("x-%d-3", os.Getppid()),      // a running one
		fmt.Sprintf("x-%d", ended.Process.Pid),   // not PREFIX PID "-"
		"x-notapid-4", fmt.Sprintf("y-%d-5", ended.Process.Pid), fmt.Sprintf("x-+%d-6", ended.Process.Pid),
	}
	for _, n := range names {
		if err := os.Mkdir(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A file named like the folder of an ended process is not what any process left: kept.
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("x-%d-7", ended.Process.Pid)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var removed []string
	Dead(dir, Prefixed("x-"), func(p string) { removed = append(removed, filepath.Base(p)) })
	if !slices.Equal(removed, names[:1]) {
		t.Fatalf("removed %v, want %v", removed, names[:1])
	}
	if !Alive(os.Getpid()) || Alive(ended.Process.Pid) {
		t.Fatal("Alive is wrong about this process or one that ended")
	}
}
