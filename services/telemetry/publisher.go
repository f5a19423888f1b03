// Package telemetry publishes what functions print and what each invocation cost onto the bus:
// batches of log lines to SLUICE_LOGS and meter records to SLUICE_METERS.
//
// Meter records are the bill, so they are never dropped: Meter publishes one with a JetStream
// acknowledgement and returns only once the stream stored it, trying again while the bus does
// not answer: the worker waits rather than drops, and the records in flight are bounded by the
// invocations running, each waiting for its own. The worker acknowledges an invocation event
// only after the record of its attempt is stored, so an acknowledged invocation always has its
// record on the bus, and one whose worker died first is delivered again and metered by that
// delivery. A record's Nats-Msg-Id is events.MeterMsgID (invocation, redrive, attempt): a
// delivery that repeats an attempt is stored once, within the stream's duplicate window. The
// record is also the attempt's START, END and REPORT lines (events.MeterLines): readers of the
// logs render them from it, so an invocation that prints nothing costs one store in all.
//
// Log lines never slow the invocation path. Each function has a bounded queue of its own (a
// number of lines and QueueBytes), and one goroutine (Run) drains the queues in turn, a batch of
// up to 64 lines from each, and publishes each batch as one SLUICE_LOGS record
// (events.LogBatch; one more for every batchBytes of encoded lines) with a plain NATS publish, so
// a function that prints a flood fills only its own queue and never delays another's lines or
// any meter record. Woken from idle, the drain waits linger first, so that lines printed
// together share a record. Every barrierEvery-th record (or the first past barrierBytes since
// the last) goes out with a JetStream acknowledgement: the stream stores in order, so it
// confirms the records before it, and at most barriersInFlight of them outstanding bound what
// waits in the server's ingest queue (which drops messages past its limit). A stopped Run
// publishes what is queued, awaits those acknowledgements and flushes the rest to the server.
//
// A function whose queue is full loses its next lines, counted (Dropped), until the queue has
// drained to half; then a line "sluice: dropped N lines (...)" on its platform stream takes their
// place, so its logs say what is missing. The platform's own lines (a warning about an
// attempt) may go past the queue's bound by an eighth, so a function's own flood does not cost
// them either; beyond that they are dropped and counted in the same marker.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// QueueBytes bounds the bytes of log lines one function may have waiting; each line counts
// its message, its names and lineOverhead.
const QueueBytes = 4 << 20

// MarkerPrefix starts the platform line that stands for a function's dropped lines:
// "sluice: dropped 1234 lines (the function printed faster than its logs can be shipped)".
const MarkerPrefix = "sluice: dropped "

// Marker is the message of the line that stands for n dropped lines.
func Marker(n int) string {
	return MarkerPrefix + strconv.Itoa(n) + " lines (the function printed faster than its logs can be shipped)"
}

// MarkerCount reads the number of dropped lines off a marker's message.
func MarkerCount(message string) (int, bool) {
	rest, ok := strings.CutPrefix(message, MarkerPrefix)
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, " ")
	v, err := strconv.Atoi(n)
	return v, err == nil
}

const (
	// platform is the stream of the worker's own lines (events.LogLine.Stream).
	platform = events.PlatformStream
	// lineOverhead is what a queued line costs beside its strings.
	lineOverhead = 128
	// batch is the most lines published from one function's queue before the next one's turn.
	batch = 64
	// batchBytes bounds the encoded lines of one SLUICE_LOGS record; a longer line (up to 64 KiB
	// printed, six times that escaped) goes alone, within any server's 1 MiB payload.
	batchBytes = 256 << 10
	// linger is how long a drain woken from idle waits for more lines before it takes any.
	linger = 5 * time.Millisecond
	// barrierEvery is how many records go out between two that ask for an acknowledgement, and
	// barrierBytes how many bytes of records at most.
	barrierEvery = 16
	barrierBytes = 2 << 20
	// barriersInFlight bounds the acknowledgements awaited at once; with barrierEvery and
	// barrierBytes, the log records of one publisher the server may hold unstored (at most 256
	// records and about 36 MiB, within the server's ingest queue of 100000 and 128 MiB).
	barriersInFlight = 16
	// ackTimeout bounds the wait for one acknowledgement of a log line or a meter record.
	ackTimeout = 10 * time.Second
	// stopWait bounds how long Run publishes and awaits what is queued once stopped.
	stopWait = 5 * time.Second
	// warnEvery spaces the warnings of the drain about the bus.
	warnEvery = 10 * time.Second
)

// queue is one function's waiting lines, oldest first (lines[head:]).
type queue struct {
	fn       string
	lines    []events.LogLine
	head     int
	bytes    int
	listed   bool           // in Publisher.ready
	dropping bool           // lines are dropped until the queue drained to half
	dropped  int            // lines dropped since the last marker
	last     events.LogLine // the last dropped line, whose names the marker takes
}

func (q *queue) len() int { return len(q.lines) - q.head }

// Publisher publishes log lines and meter records. Log and Meter are safe for concurrent use.
type Publisher struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	logger   *slog.Logger
	maxLines int
	meterFn  []func(events.Meter)
	dropped  atomic.Uint64

	mu     sync.Mutex
	queues map[string]*queue // by function
	ready  []*queue          // queues with lines, in turn
	wake   chan struct{}     // signalled when a queue gets listed
}

// NewPublisher makes a publisher whose functions may each have size log lines waiting (and at
// most QueueBytes); Run publishes them.
func NewPublisher(nc *nats.Conn, size int, logger *slog.Logger) *Publisher {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil { // only an invalid option fails, and the one above is valid
		panic(fmt.Sprintf("telemetry: %v", err))
	}
	return &Publisher{
		nc: nc, js: js, logger: logger, maxLines: max(size, 2),
		queues: map[string]*queue{}, wake: make(chan struct{}, 1),
	}
}

// OnMeter adds an observer that sees every meter record before it is published (the process's
// Prometheus metrics count from it). f runs on the invocation path and must not block. Call
// OnMeter before the publisher is used.
func (p *Publisher) OnMeter(f func(events.Meter)) { p.meterFn = append(p.meterFn, f) }

// Dropped counts the log lines lost: to a full queue (each also counted in its function's
// marker) or to a failed publish.
func (p *Publisher) Dropped() uint64 { return p.dropped.Load() }

// Meter hands the meter record of one attempt to the observers, then publishes it with msgID
// (events.MeterMsgID) as its Nats-Msg-Id, and returns once SLUICE_METERS stored it (or had it
// already). While the bus does not answer it tries again, waiting longer each time; it gives up
// only when ctx ends, and then the caller must not acknowledge the invocation.
func (p *Publisher) Meter(ctx context.Context, m events.Meter, msgID string) error {
	for _, f := range p.meterFn {
		f(m)
	}
	msg, err := events.NewMeterMsg(m, msgID)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, ackTimeout)
		_, err := p.js.PublishMsg(actx, msg)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("telemetry: meter record of %s not stored: %w: %w", m.InvocationID, ctx.Err(), err)
		}
		p.logger.Warn("telemetry: store a meter record; trying again", "function", m.Function,
			"invocation", m.InvocationID, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("telemetry: meter record of %s not stored: %w", m.InvocationID, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Log queues one log line of a function, or drops it when the function's queue is full.
func (p *Publisher) Log(l events.LogLine) {
	size := lineSize(l)
	p.mu.Lock()
	q := p.queues[l.Function]
	if q == nil {
		q = &queue{fn: l.Function}
		p.queues[l.Function] = q
	}
	n := q.len()
	full := q.dropping || n >= p.maxLines || q.bytes+size > QueueBytes
	if l.Stream == platform { // an eighth more room, and no wait for the queue to drain
		full = n >= p.maxLines+p.maxLines/8 || q.bytes+size > QueueBytes+QueueBytes/8
	}
	if full {
		q.dropping = true
		q.dropped++
		q.last = events.LogLine{Function: l.Function, Version: l.Version, Instance: l.Instance, InvocationID: l.InvocationID}
		p.mu.Unlock()
		p.dropped.Add(1)
		return
	}
	q.lines = append(q.lines, l)
	q.bytes += size
	signal := p.list(q)
	p.mu.Unlock()
	if signal {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// list puts q in turn if it is not; it reports whether it did. p.mu is held.
func (p *Publisher) list(q *queue) bool {
	if q.listed {
		return false
	}
	q.listed = true
	p.ready = append(p.ready, q)
	return true
}

// take moves up to batch lines of the queue whose turn it is to out, and puts the queue back
// in turn if lines remain. A queue drained to half while dropping gets its marker line.
func (p *Publisher) take(out []events.LogLine) []events.LogLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return out
	}
	q := p.ready[0]
	p.ready[0] = nil
	p.ready = p.ready[1:]
	k := min(q.len(), batch)
	for i := q.head; i < q.head+k; i++ {
		l := q.lines[i]
		q.bytes -= lineSize(l)
		out = append(out, l)
		q.lines[i] = events.LogLine{}
	}
	q.head += k
	if q.dropping && q.len() <= p.maxLines/2 && q.bytes <= QueueBytes/2 {
		m := q.last
		m.Time, m.Stream, m.Message = time.Now(), platform, Marker(q.dropped)
		q.lines = append(q.lines, m)
		q.bytes += lineSize(m)
		q.dropping, q.dropped, q.last = false, 0, events.LogLine{}
	}
	if q.len() > 0 {
		if q.head >= len(q.lines)/2 { // keep the backing array from growing without end
			q.lines = q.lines[:copy(q.lines, q.lines[q.head:])]
			q.head = 0
		}
		p.ready = append(p.ready, q)
		return out
	}
	q.listed = false
	delete(p.queues, q.fn)
	return out
}

// lineSize is what a line counts against its queue's QueueBytes.
func lineSize(l events.LogLine) int {
	return lineOverhead + len(l.Message) + len(l.Function) + len(l.Instance) + len(l.InvocationID) + len(l.Stream)
}

// drain is Run's state: the acknowledgements awaited and the records (and their bytes)
// published since the last record that asked for one.
type drain struct {
	p          *Publisher
	barriers   []jetstream.PubAckFuture
	since      int
	sinceBytes int
	warned     time.Time
	timer      *time.Timer // linger's
}

// Run publishes queued log lines until ctx is cancelled, then publishes what is still queued,
// awaits the acknowledgements and flushes the rest to the server (up to five seconds in all).
func (p *Publisher) Run(ctx context.Context) error {
	d := &drain{p: p}
	var buf []events.LogLine
	for {
		if buf = p.take(buf[:0]); len(buf) > 0 {
			// Waiting for room among the acknowledgements is bounded by their timeout.
			d.publish(context.WithoutCancel(ctx), buf)
			if ctx.Err() == nil {
				continue
			}
		}
		select {
		case <-p.wake:
			d.linger(ctx)
			continue
		case <-ctx.Done():
		}
		return d.stop()
	}
}

// linger waits a moment for more lines to queue, unless ctx ends first.
func (d *drain) linger(ctx context.Context) {
	if d.timer == nil {
		d.timer = time.NewTimer(linger)
	} else {
		d.timer.Reset(linger)
	}
	select {
	case <-d.timer.C:
	case <-ctx.Done():
		d.timer.Stop()
	}
}

// stop publishes what is queued, awaits every acknowledgement and has the server read the
// lines since the last, within stopWait.
func (d *drain) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopWait)
	defer cancel()
	var buf []events.LogLine
	for ctx.Err() == nil {
		if buf = d.p.take(buf[:0]); len(buf) == 0 {
			break
		}
		d.publish(ctx, buf)
	}
	for len(d.barriers) > 0 && d.await(ctx) {
	}
	if deadline, _ := ctx.Deadline(); d.since > 0 && ctx.Err() == nil {
		if err := d.p.nc.FlushTimeout(time.Until(deadline)); err != nil {
			d.p.logger.Warn("telemetry: flush log lines at stop", "err", err)
		}
	}
	if left := d.p.queued(); left > 0 || len(d.barriers) > 0 {
		d.p.dropped.Add(uint64(left))
		d.p.logger.Warn("telemetry: log lines left at stop", "unpublished", left,
			"unconfirmed_batches", len(d.barriers), "waited", stopWait)
	}
	return nil
}

// queued counts the lines waiting in every queue.
func (p *Publisher) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.queues {
		n += q.len()
	}
	return n
}

// publish sends lines of one function as batch records, every barrierEvery-th record (or the
// first past barrierBytes) with an acknowledgement.
func (d *drain) publish(ctx context.Context, lines []events.LogLine) {
	fn := lines[0].Function
	recs, skipped, err := events.EncodeLogBatches(fn, lines, batchBytes)
	if skipped > 0 {
		d.p.dropped.Add(uint64(skipped))
		d.warn("telemetry: encode log lines", "function", fn, "err", err)
	}
	subject := events.LogsSubject(fn)
	for i, r := range recs {
		if d.since+1 >= barrierEvery || d.sinceBytes+len(r.Data) >= barrierBytes {
			if !d.ack(ctx, subject, r) {
				for _, left := range recs[i:] {
					d.p.dropped.Add(uint64(left.Lines))
				}
				return
			}
			continue
		}
		if err := d.p.nc.Publish(subject, r.Data); err != nil {
			d.p.dropped.Add(uint64(r.Lines))
			d.warn("telemetry: publish log lines", "function", fn, "err", err)
			continue
		}
		d.since++
		d.sinceBytes += len(r.Data)
	}
}

// ack publishes one record with an acknowledgement, first waiting for the oldest outstanding
// one when barriersInFlight are. It reports false when ctx ended before there was room.
func (d *drain) ack(ctx context.Context, subject string, r events.EncodedLogBatch) bool {
	for len(d.barriers) >= barriersInFlight {
		if !d.await(ctx) {
			return false
		}
	}
	f, err := d.p.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: r.Data})
	if err != nil {
		d.p.dropped.Add(uint64(r.Lines))
		d.warn("telemetry: publish log lines", "subject", subject, "err", err)
		return true
	}
	d.barriers = append(d.barriers, f)
	d.since, d.sinceBytes = 0, 0
	return true
}

// await waits for the oldest outstanding acknowledgement; false when ctx ended first.
func (d *drain) await(ctx context.Context) bool {
	f := d.barriers[0]
	select {
	case <-f.Ok():
	case err := <-f.Err():
		d.warn("telemetry: the logs stream did not confirm log lines", "err", err)
	case <-ctx.Done():
		return false
	}
	d.barriers[0] = nil
	d.barriers = d.barriers[1:]
	return true
}

func (d *drain) warn(msg string, args ...any) {
	if time.Since(d.warned) < warnEvery {
		return
	}
	d.warned = time.Now()
	d.p.logger.Warn(msg, args...)
}
