// Package proctest holds what the runtimes' tests need to watch real processes: telling whether a
// pid still runs, as a condition for testkit.Eventually.
package proctest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Running reports whether pid runs: it exists and is not a zombie waiting to be reaped.
func Running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) <= i+2 || s[i+2] != 'Z'
}

// Gone is nil once pid no longer runs, else an error naming it, for testkit.Eventually.
func Gone(pid int) error {
	if Running(pid) {
		return fmt.Errorf("process %d still runs", pid)
	}
	return nil
}
