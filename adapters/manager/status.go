package manager

import (
	"context"
	"time"

	"sluice.dev/events"
)

// statusWriter writes one adapter's reports to status.<id>: the latest report wins, a change of
// state or error is written at once, anything else at most every statusEvery. It owns one
// goroutine, ended by close after which every report made has been written.
type statusWriter struct {
	m     *Manager
	id    string
	wake  chan struct{} // 1-buffered
	done  chan struct{}
	quit  chan struct{}
	state chan events.TriggerStatus // 1-buffered: holds the latest unwritten report
}

func newStatusWriter(m *Manager, id string) *statusWriter {
	w := &statusWriter{
		m: m, id: id, wake: make(chan struct{}, 1), done: make(chan struct{}), quit: make(chan struct{}),
		state: make(chan events.TriggerStatus, 1),
	}
	go w.loop()
	return w
}

// report keeps st as the latest report; safe for concurrent use.
func (w *statusWriter) report(st events.TriggerStatus) {
	for {
		select {
		case w.state <- st:
			select {
			case w.wake <- struct{}{}:
			default:
			}
			return
		default:
		}
		select { // replace the unwritten report
		case <-w.state:
		default:
		}
	}
}

// close writes what is pending and stops the goroutine.
func (w *statusWriter) close() {
	close(w.quit)
	<-w.done
}

func (w *statusWriter) loop() {
	defer close(w.done)
	var (
		last    events.TriggerStatus
		written time.Time
	)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			select {
			case st := <-w.state:
				w.write(st)
			default:
			}
			return
		}
		select {
		case st := <-w.state:
			if st.State == last.State && st.LastError == last.LastError {
				if d := statusEvery - time.Since(written); d > 0 {
					select {
					case <-time.After(d):
					case <-w.quit:
					}
					select { // a newer report may have come meanwhile
					case newer := <-w.state:
						st = newer
					default:
					}
				}
			}
			w.write(st)
			last, written = st, time.Now()
		default:
		}
	}
}

func (w *statusWriter) write(st events.TriggerStatus) {
	st.ID, st.Owner, st.Updated = w.id, w.m.owner, time.Now().UTC()
	b, err := events.EncodeTriggerStatus(st)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	if _, err := w.m.kv.Put(ctx, events.TriggerStatusKey(w.id), b); err != nil {
		w.m.log.Warn("trigger status not written", "trigger", w.id, "state", st.State, "err", err)
	}
}
