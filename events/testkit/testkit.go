// Package testkit is what sluice's tests share beyond the bus (for that, see bustest): waiting
// for a condition with a deadline instead of sleeping, and a real MinIO server for the tests of
// object storage. It uses the standard library only, so every module can import it.
package testkit

import (
	"testing"
	"time"
)

// Eventually calls check every 10ms until it returns nil, and fails the test with check's last
// error once timeout has passed. Use it instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	EventuallyEvery(t, timeout, 10*time.Millisecond, check)
}

// EventuallyEvery is Eventually calling check every interval, for checks that cost something,
// such as a request to a running node.
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true within %s: %v", timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting: %v", err)
		case <-time.After(interval):
		}
	}
}
