package worker

// runners run deliveries on goroutines that, once done with one, wait for the next: a
// goroutine's stack, grown by its first delivery, serves the next ones without growing again
// (with a goroutine per delivery, runtime.copystack took 4% of an async event's CPU). There are
// as many as deliveries ran at once; they end with stop.
type runners struct {
	work chan func()
	done chan struct{}
}

func newRunners() *runners {
	return &runners{work: make(chan func()), done: make(chan struct{})}
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
	for {
		f()
		select {
		case f = <-r.work:
		case <-r.done:
			return
		}
	}
}

// stop ends the idle runners, and each busy one when its delivery is done. run still runs what
// it is given after stop, each on a goroutine that then ends.
func (r *runners) stop() { close(r.done) }
