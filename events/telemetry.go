package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// NewMeterMsg makes the SLUICE_METERS message of one attempt's meter record, with msgID
// (MeterMsgID) as its Nats-Msg-Id.
func NewMeterMsg(m Meter, msgID string) (*nats.Msg, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode meter record of %s: %w", m.InvocationID, err)
	}
	msg := nats.NewMsg(MetersSubject(m.Function))
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Data = b
	return msg, nil
}

// DecodeMeter reads a SLUICE_METERS record made by NewMeterMsg.
func DecodeMeter(b []byte) (Meter, error) {
	return decodeJSON[Meter](b, "meter record")
}

// PlatformStream is the stream of the platform's own lines (LogLine.Stream).
const PlatformStream = "platform"

// End is when the attempt ended: its start plus its duration (which has microsecond resolution).
func (m Meter) End() time.Time {
	return m.Start.Add(time.Duration(math.Round(m.DurationMs*1000)) * time.Microsecond)
}

// MeterLines renders the START, END and REPORT lines of the attempt m records, with the texts
// the worker printed when they were lines of their own:
//
//	START RequestId: <id> Version: <n>
//	END RequestId: <id>
//	REPORT RequestId: <id> Duration: 12.34 ms Billed Duration: 13 ms Memory Size: 128 MB
//	  [Max Memory Used: 20 MB] Outcome: ok[ Init Duration: 56.78 ms Start: pre-started]
//
// (REPORT is one line). START is timed at m.Start, END and REPORT at m.End(); all are on the
// platform stream, of m's function, version and invocation. An attempt that no instance took
// (Ran false, as in every record written before the field) has none.
func MeterLines(m Meter) []LogLine {
	if !m.Ran {
		return nil
	}
	end := m.End()
	line := func(at time.Time, msg string) LogLine {
		return LogLine{Time: at, Function: m.Function, Version: m.Version, InvocationID: m.InvocationID, Stream: PlatformStream, Message: msg}
	}
	report := fmt.Sprintf("REPORT RequestId: %s Duration: %.2f ms Billed Duration: %d ms Memory Size: %d MB",
		m.InvocationID, m.DurationMs, m.BilledMs, m.MemoryMB)
	if m.PeakMemoryMB > 0 {
		report += fmt.Sprintf(" Max Memory Used: %d MB", int64(math.Ceil(m.PeakMemoryMB)))
	}
	report += " Outcome: " + string(m.Outcome)
	if m.Cold {
		report += fmt.Sprintf(" Init Duration: %.2f ms Start: %s", m.InitMs, m.ColdStart)
	}
	return []LogLine{
		line(m.Start, "START RequestId: "+m.InvocationID+" Version: "+strconv.Itoa(m.Version)),
		line(end, "END RequestId: "+m.InvocationID),
		line(end, report),
	}
}

// LogBatch is one SLUICE_LOGS record: lines of one function, in the order they were queued,
// published on LogsSubject(Function). On the bus it is
//
//	{"function": "f", "lines": [{"time", "version", "instance", "invocationId", "stream", "message"}, ...]}
//
// each line as LogLine's JSON without the function, which the batch names once.
type LogBatch struct {
	Function string
	Lines    []LogLine
}

// batchLine is a line in a batch record: a LogLine without its function.
type batchLine struct {
	Time         time.Time `json:"time"`
	Version      int       `json:"version,omitempty"`
	Instance     string    `json:"instance,omitempty"`
	InvocationID string    `json:"invocationId,omitempty"`
	Stream       string    `json:"stream"`
	Message      string    `json:"message"`
}

// logRecord reads either SLUICE_LOGS record: a batch has "lines"; a record of the single-line
// form is a LogLine.
type logRecord struct {
	LogLine
	Lines []batchLine `json:"lines"`
}

// EncodedLogBatch is one encoded SLUICE_LOGS batch record and the number of lines it holds.
type EncodedLogBatch struct {
	Data  []byte
	Lines int
}

// EncodeLogBatches encodes lines of function fn as SLUICE_LOGS batch records of at most limit
// bytes each, in order (a line larger than limit alone goes in a record of its own). A line that
// does not encode is left out, counted in skipped, and named in err; the records hold the rest.
func EncodeLogBatches(fn string, lines []LogLine, limit int) (records []EncodedLogBatch, skipped int, err error) {
	name, _ := json.Marshal(fn) // a string always marshals
	head := append(append([]byte(`{"function":`), name...), `,"lines":[`...)
	var (
		cur  EncodedLogBatch
		errs []error
	)
	for _, l := range lines {
		b, err := json.Marshal(batchLine{Time: l.Time, Version: l.Version, Instance: l.Instance,
			InvocationID: l.InvocationID, Stream: l.Stream, Message: l.Message})
		if err != nil {
			skipped++
			if len(errs) < 3 {
				errs = append(errs, fmt.Errorf("encode a log line of %s: %w", fn, err))
			}
			continue
		}
		if cur.Lines > 0 && len(cur.Data)+1+len(b)+2 > limit {
			cur.Data = append(cur.Data, "]}"...)
			records = append(records, cur)
			cur = EncodedLogBatch{}
		}
		if cur.Lines == 0 {
			cur.Data = append(make([]byte, 0, min(limit, len(head)+len(b)*(len(lines)+1))+2), head...)
		} else {
			cur.Data = append(cur.Data, ',')
		}
		cur.Data = append(cur.Data, b...)
		cur.Lines++
	}
	if cur.Lines > 0 {
		cur.Data = append(cur.Data, "]}"...)
		records = append(records, cur)
	}
	return records, skipped, errors.Join(errs...)
}

// EncodeLogBatch is the SLUICE_LOGS record of one batch, whatever its size.
func EncodeLogBatch(b LogBatch) ([]byte, error) {
	recs, _, err := EncodeLogBatches(b.Function, b.Lines, math.MaxInt)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("encode log batch of %s: no lines", b.Function)
	}
	return recs[0].Data, nil
}

// DecodeLogBatch reads a SLUICE_LOGS record: a batch (EncodeLogBatches), or a record of one
// line (a LogLine's JSON) as published before batches, read as a batch of that line. A stream
// may hold both.
func DecodeLogBatch(b []byte) (LogBatch, error) {
	r, err := decodeJSON[logRecord](b, "log record")
	if err != nil {
		return LogBatch{}, err
	}
	if r.Lines == nil {
		return LogBatch{Function: r.Function, Lines: []LogLine{r.LogLine}}, nil
	}
	out := LogBatch{Function: r.Function, Lines: make([]LogLine, len(r.Lines))}
	for i, l := range r.Lines {
		out.Lines[i] = LogLine{Time: l.Time, Function: r.Function, Version: l.Version, Instance: l.Instance,
			InvocationID: l.InvocationID, Stream: l.Stream, Message: l.Message}
	}
	return out, nil
}
