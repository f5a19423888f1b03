package worker

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// goroutineID is the running goroutine's number, from its stack's first line.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b, _, _ = bytes.Cut(bytes.TrimPrefix(b, []byte("goroutine ")), []byte(" "))
	return string(b)
}

func TestRunnersReuseTheirGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRunners(time.Minute)
	ids := map[string]bool{}
	done := make(chan string)
	r.run(func() { done <- goroutineID() })
	ids[<-done] = true
	for range 99 { // one at a time: the idle runner takes each (a send run makes when one waits)
		select {
		case r.work <- func() { done <- goroutineID() }:
		case <-time.After(10 * time.Second):
			t.Fatal("no runner waits for the next delivery")
		}
		ids[<-done] = true
	}
	if len(ids) != 1 {
		t.Errorf("100 deliveries one after another ran on %d goroutines", len(ids))
	}

	// As many at once as are given: none waits for another.
	var started, finish sync.WaitGroup
	release := make(chan struct{})
	started.Add(20)
	finish.Add(20)
	for range 20 {
		r.run(func() {
			defer finish.Done()
			started.Done()
			<-release
		})
	}
	started.Wait()
	close(release)
	finish.Wait()

	r.stop()
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after stop, %d before", n, before)
		}
		return nil
	})
	ran := make(chan struct{})
	r.run(func() { close(ran) }) // after stop: still run
	<-ran
}

// A runner left idle for the idle time ends, without stop.
func TestIdleRunnersEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRunners(50 * time.Millisecond)
	defer r.stop()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 10 {
		wg.Add(1)
		r.run(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after the idle time, %d before", n, before)
		}
		return nil
	})
}
