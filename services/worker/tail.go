package worker

import (
	"strings"
	"sync"
	"sync/atomic"

	"sluice.dev/events"
)

// logTaps collect what the invocations whose callers asked for their log's tail print
// (events.ExtLogTail), beside the lines' way to the bus.
type logTaps struct {
	open atomic.Int32 // taps open: lines are looked up only while some are
	mu   sync.Mutex
	taps map[string]*tap // by invocation id
}

// tap is one invocation's printed lines, the oldest dropped past twice the tail's size.
type tap struct {
	lines []string
	bytes int
}

// start taps the lines of invocation id.
func (t *logTaps) start(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.taps == nil {
		t.taps = map[string]*tap{}
	}
	if _, ok := t.taps[id]; !ok {
		t.taps[id] = &tap{}
		t.open.Add(1)
	}
}

// add keeps a printed line when its invocation is tapped.
func (t *logTaps) add(l events.LogLine) {
	if t.open.Load() == 0 || l.InvocationID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, ok := t.taps[l.InvocationID]
	if !ok {
		return
	}
	tp.lines = append(tp.lines, l.Message)
	tp.bytes += len(l.Message) + 1
	for tp.bytes > 2*events.LogTailBytes && len(tp.lines) > 1 {
		tp.bytes -= len(tp.lines[0]) + 1
		tp.lines = tp.lines[1:]
	}
}

// stop ends the tap of invocation id and returns what it printed.
func (t *logTaps) stop(id string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, ok := t.taps[id]
	if !ok {
		return nil
	}
	delete(t.taps, id)
	t.open.Add(-1)
	return tp.lines
}

// logTail is the end of an attempt's log as Lambda's Invoke returns it: its START line, the
// lines it printed, END and REPORT (rendered from its meter record m), the last
// events.LogTailBytes of them.
func logTail(m events.Meter, printed []string) string {
	platform := events.MeterLines(m)
	var b strings.Builder
	if len(platform) == 3 {
		b.WriteString(platform[0].Message + "\n")
	}
	for _, l := range printed {
		b.WriteString(l + "\n")
	}
	if len(platform) == 3 {
		b.WriteString(platform[1].Message + "\n" + platform[2].Message + "\n")
	}
	s := b.String()
	if len(s) > events.LogTailBytes {
		s = s[len(s)-events.LogTailBytes:]
	}
	return s
}
