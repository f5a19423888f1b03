package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sizes to which a function's error is cut, in bytes of UTF-8, before it is encoded anywhere (a
// synchronous reply, a result record, a dead letter). A part over its size keeps its first bytes
// (whole characters) and gains a marker saying how much was cut: "… (843776 of 1100000 bytes
// cut)"; frames of a stack trace beyond its size are replaced by one last frame saying how many
// were cut. JSON escapes a byte into at most 6, so a cut error encodes into at most about 3.1 MB
// and every result record fits MaxRecord, the value size of sluice_results, with room to spare.
const (
	MaxErrorType    = 1 << 10   // errorType
	MaxErrorMessage = 256 << 10 // errorMessage, as an async event in AWS Lambda
	MaxStackTrace   = 256 << 10 // stackTrace, all frames together
	MaxStackFrames  = 1000      // stackTrace frames
)

// Sizes to which a dead letter's Sluice-Error header is cut: the event's own data and headers
// fill most of a message, and the whole error stays in the invocation's result record.
const (
	MaxHeaderErrorType    = 256
	MaxHeaderErrorMessage = 2 << 10
	MaxHeaderStackTrace   = 2 << 10
	MaxHeaderStackFrames  = 32
)

// MaxRecord is the largest value of sluice_results: a response of MaxPayload bytes and the rest
// of its record.
const MaxRecord = MaxPayload + 64<<10

// ErrorLimits are the sizes a FunctionError is cut to.
type ErrorLimits struct {
	Type, Message, Trace, Frames int
}

// RecordErrorLimits are the sizes of an error in a reply or a result record.
func RecordErrorLimits() ErrorLimits {
	return ErrorLimits{Type: MaxErrorType, Message: MaxErrorMessage, Trace: MaxStackTrace, Frames: MaxStackFrames}
}

// HeaderErrorLimits are the sizes of an error in a dead letter's header.
func HeaderErrorLimits() ErrorLimits {
	return ErrorLimits{Type: MaxHeaderErrorType, Message: MaxHeaderErrorMessage, Trace: MaxHeaderStackTrace, Frames: MaxHeaderStackFrames}
}

// Cut returns the error with each part cut to l (see MaxErrorMessage), markers included: e
// itself when it fits, a copy otherwise; nil stays nil. Cutting a cut error again keeps saying how
// much of the original was cut.
func (e *FunctionError) Cut(l ErrorLimits) *FunctionError {
	if e == nil || e.fits(l) {
		return e
	}
	c := &FunctionError{Type: cutString(e.Type, l.Type), Message: cutString(e.Message, l.Message), Trace: e.Trace}
	if traceBytes(e.Trace) <= l.Trace && len(e.Trace) <= l.Frames {
		return c
	}
	total := traceBytes(e.Trace)
	last := framesMarker(len(e.Trace), total)
	budget := l.Trace - len(last)
	c.Trace = nil
	for i, f := range e.Trace {
		if i >= l.Frames-1 || len(f) > budget && budget <= len(cutMarker(len(f), len(f))) {
			c.Trace = append(c.Trace, framesMarker(len(e.Trace)-i, traceBytes(e.Trace[i:])))
			break
		}
		f = cutString(f, budget)
		budget -= len(f)
		c.Trace = append(c.Trace, f)
	}
	return c
}

func (e *FunctionError) fits(l ErrorLimits) bool {
	return len(e.Type) <= l.Type && len(e.Message) <= l.Message && len(e.Trace) <= l.Frames && traceBytes(e.Trace) <= l.Trace
}

func traceBytes(frames []string) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

func framesMarker(frames, bytes int) string {
	return fmt.Sprintf("… (%d more frames, %d bytes, cut)", frames, bytes)
}

func cutMarker(cut, total int) string { return fmt.Sprintf("… (%d of %d bytes cut)", cut, total) }

// cutString keeps as many bytes of s (whole characters) as fit limit with a marker saying how many
// of the original's bytes were cut; a string that was cut before counts from its original.
func cutString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	body, total := uncut(s)
	n := max(min(limit-len(cutMarker(total, total)), len(body)), 0)
	for n > 0 && n < len(body) && !utf8.RuneStart(body[n]) {
		n--
	}
	return body[:n] + cutMarker(total-n, total)
}

// uncut splits a string cutString made into what it kept and the original's size; any other
// string is all kept.
func uncut(s string) (body string, total int) {
	i := strings.LastIndex(s, "… (")
	if i < 0 || !strings.HasSuffix(s, " bytes cut)") {
		return s, len(s)
	}
	var cut, of int
	if _, err := fmt.Sscanf(s[i+len("… ("):], "%d of %d bytes cut)", &cut, &of); err != nil || of != i+cut {
		return s, len(s)
	}
	return s[:i], of
}

// EncodeResult encodes r as its sluice_results record, within MaxRecord bytes: the error cut to
// RecordErrorLimits, the function's response as JSON (RawJSON), characters such as < and & left
// unescaped. A response that is not JSON and grows past the limit once escaped as a string is
// left out, and PayloadOmitted says its size.
func EncodeResult(r Result) ([]byte, error) {
	r.Error = r.Error.Cut(RecordErrorLimits())
	r.Payload = RawJSON(r.Payload)
	b, err := encodeRecord(r)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecord && r.Payload != nil {
		r.PayloadOmitted, r.Payload = len(r.Payload), nil
		if b, err = encodeRecord(r); err != nil {
			return nil, err
		}
	}
	if len(b) > MaxRecord {
		return nil, fmt.Errorf("result record of %s: %d bytes, over the %d-byte limit", r.ID, len(b), MaxRecord)
	}
	return b, nil
}

// Small is the record of r for a results bucket that refuses its full record as too large (one
// on a server with a smaller message size): without the response, and with the error cut to
// HeaderErrorLimits.
func (r Result) Small() Result {
	if len(r.Payload) > 0 {
		r.PayloadOmitted, r.Payload = len(r.Payload), nil
	}
	r.Error = r.Error.Cut(HeaderErrorLimits())
	return r
}

func encodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// HeaderError is the Sluice-Error header of a dead letter: e cut to HeaderErrorLimits, as JSON.
func HeaderError(e *FunctionError) string {
	b, err := encodeRecord(e.Cut(HeaderErrorLimits()))
	if err != nil {
		return ""
	}
	return string(b)
}
