// Package proctest holds what the runtimes' tests need to watch real processes: polling a
// condition with a deadline instead of sleeping, and telling whether a pid still runs.
package proctest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Eventually polls cond every 10ms until it returns nil, failing the test with its last error
// once within has passed.
func Eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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

// Gone is nil once pid no longer runs, else an error naming it, for Eventually.
func Gone(pid int) error {
	if Running(pid) {
		return fmt.Errorf("process %d still runs", pid)
	}
	return nil
}
