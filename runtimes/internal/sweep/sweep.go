// Package sweep finds what processes that no longer run left behind: folders named after their
// process (PREFIX + PID + "-" + anything), which a process killed before its cleanup never
// removes.
package sweep

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Alive reports whether the process pid runs (one of another user's counts).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Dead calls remove with the path of every entry of dir named prefix + PID + "-" + anything
// whose process no longer runs; never this process's own.
func Dead(dir, prefix string, remove func(path string)) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		p, _, named := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(p)
		if !ok || !named || err != nil || pid <= 0 || pid == os.Getpid() || Alive(pid) {
			continue
		}
		remove(filepath.Join(dir, e.Name()))
	}
}
