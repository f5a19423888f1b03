// Package sweep finds what processes that no longer run left behind: folders named after their
// process, which a process killed before its cleanup never removes.
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

// Owner reads the process an entry's name is of; ok is false for a name of no process.
type Owner func(name string) (pid int, ok bool)

// Prefixed is the Owner of names PREFIX + PID + "-" + anything.
func Prefixed(prefix string) Owner {
	return func(name string) (int, bool) {
		rest, ok := strings.CutPrefix(name, prefix)
		p, _, named := strings.Cut(rest, "-")
		if !ok || !named {
			return 0, false
		}
		return PID(p)
	}
}

// PID reads a process id: decimal digits only, above zero.
func PID(s string) (int, bool) {
	n, err := strconv.ParseUint(s, 10, 31)
	return int(n), err == nil && n > 0
}

// Dead calls remove with the path of every folder of dir that owner names a process for, when
// that process no longer runs; never this process's own. Files are left alone.
func Dead(dir string, owner Owner, remove func(path string)) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		pid, ok := owner(e.Name())
		if !e.IsDir() || !ok || pid == os.Getpid() || Alive(pid) {
			continue
		}
		remove(filepath.Join(dir, e.Name()))
	}
}
