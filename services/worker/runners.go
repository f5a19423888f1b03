package worker

import "time"

// runners run deliveries on goroutines that, once done with one, wait a while for the next: a
// goroutine's stack, grown by its first delivery, serves the next ones without growing again
// (with a goroutine per delivery, runtime.copystack took 4% of an async event's CPU). There are
// as many as deliveries ran at once; one idle for the idle time ends, and all end with stop.
type runners struct {
	work chan func()
	done chan struct{}
	idle time.Duration
}

// runnerIdle is how long a runner waits for the next delivery before it ends.
const runnerIdle = time.Minute

func newRunners(idle time.Duration) *runners {
	return &runners{work: make(chan func()), done: make(chan struct{}), idle: idle}
}

// run runs f on an idle runner, or on a new one when none is idle.
func (r *runners) run(f func()) {
	select {
	case r.work <- f:
	default:
		go r.loop(f)
	}
}

func (r *runners) loop(f func()) {
	idle := time.NewTimer(r.idle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(r.idle)
		select {
		case f = <-r.work:
		case <-idle.C:
			return
		case <-r.done:
			return
		}
	}
}

// stop ends the idle runners, and each busy one when its delivery is done. run still runs what
// it is given after stop, each on a goroutine that then ends.
func (r *runners) stop() { close(r.done) }
