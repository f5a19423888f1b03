package instance

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"sluice.dev/sdk/rawio"
)

// MaxLine is the longest line delivered to Config.Logs; longer lines arrive split in pieces.
const MaxLine = 64 << 10

// tailLines is how many stderr lines a Failure carries.
const tailLines = 10

// output reads one of the process's streams line by line. The reading goroutine and drain (run
// by Invoke when an invocation ends) share the pipe under mu, so every byte the process wrote
// before answering an invocation is delivered, tagged with that invocation's id, before Invoke
// returns.
type output struct {
	stream string
	f      *os.File
	rc     syscall.RawConn
	inst   *Instance

	finished chan struct{} // closed when run returns

	mu  sync.Mutex
	buf []byte // buf[:n] is the pending partial line
	n   int
	eof bool
}

func newOutput(inst *Instance, stream string, f *os.File) (*output, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &output{stream: stream, f: f, rc: rc, inst: inst, buf: make([]byte, MaxLine), finished: make(chan struct{})}, nil
}

// run reads until the write ends are all closed or the file is closed under it.
func (o *output) run() {
	defer close(o.finished)
	for {
		var stop bool
		err := o.rc.Read(func(fd uintptr) bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			again, err := o.readOnce(int(fd))
			if again {
				return false // wait until readable
			}
			stop = err != nil || o.eof
			return true
		})
		if err != nil || stop {
			break
		}
	}
	o.mu.Lock()
	o.flush()
	o.mu.Unlock()
	_ = o.f.Close()
}

// drain delivers what is already in the pipe, then the pending partial line.
func (o *output) drain() {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.rc.Control(func(fd uintptr) {
		for range 64 { // bounded: a process flooding its output cannot hold Invoke here
			if again, err := o.readOnce(int(fd)); again || err != nil || o.eof {
				return
			}
		}
	})
	o.flush()
}

// readOnce does one read into the line buffer and delivers complete lines. again reports an
// empty non-blocking pipe. Called with mu held.
func (o *output) readOnce(fd int) (again bool, err error) {
	if o.eof {
		return false, nil
	}
	if o.n == len(o.buf) { // a line longer than MaxLine: deliver this piece
		o.emit(o.buf[:o.n])
		o.n = 0
	}
	// Read after every invocation, on its path: a raw read, as the pipe never blocks.
	n, err := rawio.Read(uintptr(fd), o.buf[o.n:])
	switch {
	case errors.Is(err, syscall.EAGAIN):
		return true, nil
	case err != nil:
		return false, err
	case n == 0:
		o.eof = true
		return false, nil
	}
	start, from, end := 0, o.n, o.n+n
	for {
		i := bytes.IndexByte(o.buf[from:end], '\n')
		if i < 0 {
			break
		}
		o.emit(o.buf[start : from+i])
		start, from = from+i+1, from+i+1
	}
	o.n = copy(o.buf, o.buf[start:end])
	return false, nil
}

// flush delivers the pending partial line. Called with mu held.
func (o *output) flush() {
	if o.n > 0 {
		o.emit(o.buf[:o.n])
		o.n = 0
	}
}

func (o *output) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	o.inst.deliver(o.stream, string(line))
}

// tail keeps the last stderr lines for error reports.
type tail struct {
	mu    sync.Mutex
	lines [tailLines]string
	next  int
	full  bool
}

func (t *tail) add(s string) {
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	t.mu.Lock()
	t.lines[t.next] = s
	t.next = (t.next + 1) % tailLines
	t.full = t.full || t.next == 0
	t.mu.Unlock()
}

func (t *tail) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]string(nil), t.lines[:t.next]...)
	}
	return append(append([]string(nil), t.lines[t.next:]...), t.lines[:t.next]...)
}

// deliver tags a line with its invocation and hands it to Config.Logs: with a concurrency of 1,
// the invocation in flight; above, the one the runtime's tag names (see untag). Calls are
// serialised, so Logs never runs concurrently with itself.
func (i *Instance) deliver(stream, text string) {
	var id string
	if i.conc.Load() > 1 {
		id, text = untag(text)
	} else if p := i.reqID.Load(); p != nil {
		id = *p
	}
	if stream == "stderr" {
		i.tail.add(text)
	}
	i.logMu.Lock()
	if i.logs != nil {
		i.logs(Line{Time: time.Now(), RequestID: id, Stream: stream, Text: text})
	}
	i.logMu.Unlock()
}

// untag splits a line a concurrent runtime printed into its invocation id and text: a tagged
// line starts with 0x1e, the invocation's wire id and 0x1f (package runtimeapi). An untagged
// line, or one whose tag does not parse, belongs to no invocation.
func untag(line string) (id, text string) {
	if len(line) == 0 || line[0] != 0x1e {
		return "", line
	}
	end := strings.IndexByte(line, 0x1f)
	if end < 0 || end > 1024 {
		return "", line
	}
	id, err := url.PathUnescape(line[1:end])
	if err != nil {
		return "", line
	}
	return id, line[end+1:]
}
