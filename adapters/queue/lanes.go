package queue

import (
	"hash/fnv"
	"sync"
)

// lanes hands messages to n goroutines, every message of one order key to the same one, so a
// key's messages are published in the order they came while other keys' go beside them.
// Messages without a key go to the lanes in turn.
type lanes[M any] struct {
	in   []chan M
	next int
	wg   sync.WaitGroup
}

// startLanes runs handle on n lanes until stop.
func startLanes[M any](n int, handle func(M)) *lanes[M] {
	l := &lanes[M]{in: make([]chan M, n)}
	for i := range l.in {
		l.in[i] = make(chan M)
		l.wg.Go(func() {
			for m := range l.in[i] {
				handle(m)
			}
		})
	}
	return l
}

// add hands m to its key's lane, waiting until that lane takes it or done closes. It is called
// from one goroutine.
func (l *lanes[M]) add(key string, m M, done <-chan struct{}) {
	i := l.next % len(l.in)
	l.next++
	if key != "" {
		h := fnv.New32a()
		h.Write([]byte(key))
		i = int(h.Sum32() % uint32(len(l.in)))
	}
	select {
	case l.in[i] <- m:
	case <-done:
	}
}

// stop ends the lanes once they handled what they took.
func (l *lanes[M]) stop() {
	for _, c := range l.in {
		close(c)
	}
	l.wg.Wait()
}
