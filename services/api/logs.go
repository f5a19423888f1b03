package api

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/httpjson"
)

// Log streaming settings.
const (
	DefaultLogsSince = 10 * time.Minute // as `aws logs tail`
	logsCatchUpWait  = 5 * time.Second  // reading what was there at the start: give up on a gap this long
	logsKeepAlive    = 15 * time.Second // with follow: a comment or newline this often
	logsWriteWait    = 30 * time.Second // a stream's reader must take each line within this
	// logsGrace is how long, with follow, a line that arrived waits for the other stream to
	// show whether it has an earlier one.
	logsGrace = 200 * time.Millisecond
	// logsLookahead is how far past a line's time the meter records are read before it is
	// written (when they are there), so that the START of an invocation that ended later but
	// began earlier goes before it.
	logsLookahead = time.Minute
	// logsMetersAhead bounds the lines of meter records read ahead.
	logsMetersAhead = 4096
	// logsResolution is the resolution of a meter record's times: a printed line within it after
	// a meter record's line goes first (a line printed at an invocation's very end is timed a
	// little after its END, whose duration is cut to whole microseconds).
	logsResolution = time.Microsecond
)

// logsQuery is the parsed query of GET /v1/functions/{name}/logs.
type logsQuery struct {
	start      time.Time
	follow     bool
	invocation string
	grep       string // only lines whose message contains it
	sse        bool
}

func parseLogsQuery(r *http.Request, now time.Time) (logsQuery, error) {
	q := r.URL.Query()
	lq := logsQuery{start: now.Add(-DefaultLogsSince), invocation: q.Get("invocation"), grep: q.Get("grep")}
	if s := q.Get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			lq.start = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			lq.start = t
		} else {
			return lq, errors.New(`since: use a duration like "10m" or "2h", or an RFC 3339 time`)
		}
	}
	if f := q.Get("follow"); f != "" {
		b, err := strconv.ParseBool(f)
		if err != nil {
			return lq, errors.New(`follow: use 1 or 0`)
		}
		lq.follow = b
	}
	lq.sse = strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	return lq, nil
}

// logs serves GET /v1/functions/{name}/logs: the function's lines on SLUICE_LOGS (batch
// records) merged by time with the START, END and REPORT lines of its meter records on
// SLUICE_METERS (events.MeterLines). Without follow, both streams are read up to what they held
// at the request's start; with follow, on and on, a line that arrived waiting at most logsGrace
// for the other stream. Each line is written as LogLine JSON; as a Server-Sent Event its id
// names the line ("logs.SEQ.N": the record's stream sequence and the line's place in it;
// "meters.SEQ.N" for a meter record's lines): a reader that reconnects with an earlier since
// skips the ids it has.
func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := mux.Vars(r)["name"]
	if _, err := a.reg.Function(ctx, name); err != nil {
		a.fail(w, r, err)
		return
	}
	lq, err := parseLogsQuery(r, time.Now())
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
		return
	}
	logs := logSource{stream: events.StreamLogs, subject: events.LogsSubject(name), decode: lq.logRecord}
	meters := logSource{stream: events.StreamMeters, subject: events.MetersSubject(name), decode: lq.meterRecord}
	for _, s := range []*logSource{&logs, &meters} {
		if err := s.open(ctx, a.js, lq.start); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	// A stream lasts as long as its reader reads: no deadline for the whole request, one per
	// write instead (writeLine, keepAlive).
	httpjson.Extend(w, 0)
	a.startStream(w, lq.sse)
	if !lq.follow && logs.last == 0 && meters.last == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := &logMerge{q: lq, w: w, rc: http.NewResponseController(w)}
	m.logs.init(ctx, a, &logs, lq.follow, cancel)
	m.meters.init(ctx, a, &meters, lq.follow, cancel)
	m.run(ctx)
}

// logSource is one of the two streams a logs request reads.
type logSource struct {
	stream, subject string
	js              jetstream.Stream
	start           time.Time // the first store time read (the query's since)
	last            uint64    // the subject's last sequence at the start, 0 when none since start
	decode          func(data []byte, seq uint64, arrived time.Time) logChunk
}

// open finds the stream and the last record of the subject stored since start.
func (s *logSource) open(ctx context.Context, js jetstream.JetStream, start time.Time) error {
	st, err := js.Stream(ctx, s.stream)
	if err != nil {
		return err
	}
	s.js, s.start = st, start
	m, err := st.GetLastMsgForSubject(ctx, s.subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return err
	case !m.Time.Before(start):
		s.last = m.Sequence
	}
	return nil
}

// logItem is one line to write, with its SSE id and when its record arrived.
type logItem struct {
	line    events.LogLine
	id      string
	arrived time.Time
	order   uint64 // among the meter lines: the order read, for equal times
}

// logChunk is what one record gives: its lines that pass the filters, and for a meter record
// when its attempt ended. caughtUp says the source has read what it held at the start.
type logChunk struct {
	items    []logItem
	end      time.Time
	caughtUp bool
}

// logRecord reads a SLUICE_LOGS record (a batch, or a line of the single-line form).
func (lq logsQuery) logRecord(data []byte, seq uint64, arrived time.Time) logChunk {
	b, err := events.DecodeLogBatch(data)
	if err != nil {
		return logChunk{} // not a log record; skip it
	}
	return lq.chunk(b.Lines, "logs.", seq, arrived)
}

// meterRecord reads a SLUICE_METERS record as its START, END and REPORT lines.
func (lq logsQuery) meterRecord(data []byte, seq uint64, arrived time.Time) logChunk {
	m, err := events.DecodeMeter(data)
	if err != nil {
		return logChunk{}
	}
	c := lq.chunk(events.MeterLines(m), "meters.", seq, arrived)
	c.end = m.End()
	return c
}

func (lq logsQuery) chunk(lines []events.LogLine, prefix string, seq uint64, arrived time.Time) logChunk {
	var c logChunk
	for i, l := range lines {
		if lq.invocation != "" && l.InvocationID != lq.invocation || lq.grep != "" && !strings.Contains(l.Message, lq.grep) {
			continue
		}
		c.items = append(c.items, logItem{line: l, id: prefix + strconv.FormatUint(seq, 10) + "." + strconv.Itoa(i), arrived: arrived})
	}
	return c
}

// logFeed is a source's records as chunks, read by a goroutine of their own.
type logFeed struct {
	ch       chan logChunk
	open     bool // ch is not closed
	caughtUp bool // the records there at the start are read
}

// init starts reading src from lq.start: without follow up to its last record, then ch closes;
// with follow on and on. An error of the stream ends the request (cancel).
func (f *logFeed) init(ctx context.Context, a *API, src *logSource, follow bool, cancel func()) {
	f.ch, f.open, f.caughtUp = make(chan logChunk, 16), true, src.last == 0
	if !follow && src.last == 0 {
		close(f.ch)
		f.open = false
		return
	}
	go func() {
		defer close(f.ch)
		if err := src.read(ctx, follow, f.ch); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "logs: read", "stream", src.stream, "subject", src.subject, "err", err)
			cancel()
		}
	}()
}

// read sends src's records since start to ch as chunks, the one of its last record at the
// start (or the first after logsCatchUpWait of nothing before it) marked caughtUp; without
// follow it returns there.
func (src *logSource) read(ctx context.Context, follow bool, ch chan<- logChunk) error {
	start := src.start
	it, stop, err := events.ReadStream(ctx, src.js, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{src.subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return err
	}
	defer stop()
	caughtUp := src.last == 0
	send := func(c logChunk) bool {
		select {
		case ch <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		wait := time.Duration(0)
		if !caughtUp {
			wait = logsCatchUpWait
		}
		m, err := next(ctx, it, wait)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			// A gap where records were due: go on without them.
			if !follow {
				return nil
			}
			caughtUp = true
			if !send(logChunk{caughtUp: true}) {
				return nil
			}
			continue
		case err != nil:
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		seq := meta.Sequence.Stream
		c := src.decode(m.Data(), seq, time.Now())
		if !caughtUp && seq >= src.last {
			caughtUp, c.caughtUp = true, true
		}
		if !send(c) {
			return nil
		}
		if caughtUp && !follow {
			return nil
		}
	}
}

// logMerge writes the lines of both sources in time order: each source is nearly in order on
// its own (a record's lines are in the order printed; meter records come in the order their
// attempts ended), so the earlier of the two heads goes first, once the other source has shown
// it has nothing earlier: it has a later head or has ended; without follow, read to the end of
// what it held; with follow, nothing came within logsGrace of the line's arrival.
type logMerge struct {
	q  logsQuery
	w  http.ResponseWriter
	rc *http.ResponseController

	logs   logFeed
	queue  []logItem // the lines of the current SLUICE_LOGS record not yet written
	meters logFeed
	ahead  meterHeap // lines of the meter records read, earliest first
	end    time.Time // when the attempt of the last meter record read ended
	order  uint64
}

func (m *logMerge) takeLogs(c logChunk, ok bool) {
	if !ok {
		m.logs.open, m.logs.caughtUp = false, true
		return
	}
	m.logs.caughtUp = m.logs.caughtUp || c.caughtUp
	m.queue = append(m.queue, c.items...)
}

func (m *logMerge) takeMeters(c logChunk, ok bool) {
	if !ok {
		m.meters.open, m.meters.caughtUp = false, true
		return
	}
	m.meters.caughtUp = m.meters.caughtUp || c.caughtUp
	if c.end.After(m.end) {
		m.end = c.end
	}
	for _, it := range c.items {
		m.order++
		it.order = m.order
		heap.Push(&m.ahead, it)
	}
}

// head is the earlier of the two sources' first lines; fromLogs says whose.
func (m *logMerge) head() (it logItem, fromLogs, ok bool) {
	switch {
	case len(m.queue) > 0 && (m.ahead.Len() == 0 || !m.queue[0].line.Time.After(m.ahead[0].line.Time.Add(logsResolution))):
		return m.queue[0], true, true
	case m.ahead.Len() > 0:
		return m.ahead[0], false, true
	}
	return logItem{}, false, false
}

// needLogs says whether the head must wait for SLUICE_LOGS: it is a meter line and no record
// of lines is at hand, while one may come.
func (m *logMerge) needLogs() bool {
	return m.logs.open && len(m.queue) == 0
}

// needMeters says whether the head must wait for SLUICE_METERS: records may come that end
// before its time plus logsLookahead, and there is room for them.
func (m *logMerge) needMeters(it logItem) bool {
	return m.meters.open && m.ahead.Len() < logsMetersAhead && m.end.Before(it.line.Time.Add(logsLookahead))
}

func (m *logMerge) run(ctx context.Context) {
	keepAlive := time.NewTimer(logsKeepAlive)
	defer keepAlive.Stop()
	grace := time.NewTimer(time.Hour)
	grace.Stop()
	defer grace.Stop()
	for {
		// Take what is at hand: the meter records (up to the bound), a record of lines when
		// none is waiting.
	takeIn:
		for m.meters.open && m.ahead.Len() < logsMetersAhead {
			select {
			case c, ok := <-m.meters.ch:
				m.takeMeters(c, ok)
			default:
				break takeIn
			}
		}
		if m.needLogs() {
			select {
			case c, ok := <-m.logs.ch:
				m.takeLogs(c, ok)
			default:
			}
		}
		it, fromLogs, ok := m.head()
		if !ok && !m.logs.open && !m.meters.open {
			return
		}
		if ok {
			// A source not caught up is waited for; with follow, one that is, for logsGrace
			// from the line's arrival.
			graced := m.q.follow && time.Now().Before(it.arrived.Add(logsGrace))
			waitLogs := !fromLogs && m.needLogs() && (!m.logs.caughtUp || graced)
			waitMeters := m.needMeters(it) && (!m.meters.caughtUp || graced)
			if !waitLogs && !waitMeters {
				if fromLogs {
					m.queue[0] = logItem{}
					m.queue = m.queue[1:]
				} else {
					heap.Pop(&m.ahead)
				}
				if err := writeLine(m.w, m.rc, it.line, it.id, m.q.sse); err != nil {
					return // the client went away
				}
				keepAlive.Reset(logsKeepAlive)
				continue
			}
			if graced {
				grace.Reset(time.Until(it.arrived.Add(logsGrace)))
			}
		}
		// Wait for either source (whichever may come and has room), the grace or a keep-alive.
		var logsCh, metersCh <-chan logChunk
		if m.needLogs() {
			logsCh = m.logs.ch
		}
		if m.meters.open && m.ahead.Len() < logsMetersAhead {
			metersCh = m.meters.ch
		}
		var alive <-chan time.Time
		if m.q.follow {
			alive = keepAlive.C
		}
		select {
		case <-ctx.Done():
			return
		case c, ok := <-logsCh:
			m.takeLogs(c, ok)
		case c, ok := <-metersCh:
			m.takeMeters(c, ok)
		case <-grace.C:
		case <-alive:
			if err := keepAliveWrite(m.w, m.rc, m.q.sse); err != nil {
				return
			}
			keepAlive.Reset(logsKeepAlive)
		}
		grace.Stop()
	}
}

// meterHeap holds meter lines, earliest first (in the order read for equal times).
type meterHeap []logItem

func (h meterHeap) Len() int { return len(h) }
func (h meterHeap) Less(i, j int) bool {
	if c := h[i].line.Time.Compare(h[j].line.Time); c != 0 {
		return c < 0
	}
	return h[i].order < h[j].order
}
func (h meterHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *meterHeap) Push(x any)   { *h = append(*h, x.(logItem)) }
func (h *meterHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = logItem{}
	*h = old[:len(old)-1]
	return it
}

func next(ctx context.Context, it jetstream.MessagesContext, wait time.Duration) (jetstream.Msg, error) {
	if wait <= 0 {
		return it.Next(jetstream.NextContext(ctx))
	}
	nctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return it.Next(jetstream.NextContext(nctx))
}

func (a *API) startStream(w http.ResponseWriter, sse bool) {
	h := w.Header()
	if sse {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
}

// writeLine writes one line and flushes it; as an SSE event with id.
func writeLine(w http.ResponseWriter, rc *http.ResponseController, line events.LogLine, id string, sse bool) error {
	b, _ := json.Marshal(line) // plain data always marshals
	_ = rc.SetWriteDeadline(time.Now().Add(logsWriteWait))
	var err error
	if sse {
		_, err = w.Write([]byte("id: " + id + "\ndata: " + string(b) + "\n\n"))
	} else {
		_, err = w.Write(append(b, '\n'))
	}
	if err != nil {
		return err
	}
	return rc.Flush()
}

// keepAlive keeps idle followed streams open through proxies: an SSE comment, or an empty line
// that NDJSON readers skip.
func keepAliveWrite(w http.ResponseWriter, rc *http.ResponseController, sse bool) error {
	s := "\n"
	if sse {
		s = ": keep-alive\n\n"
	}
	_ = rc.SetWriteDeadline(time.Now().Add(logsWriteWait))
	if _, err := w.Write([]byte(s)); err != nil {
		return err
	}
	return rc.Flush()
}
