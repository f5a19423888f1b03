package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Headers a dead-lettered event carries in SLUICE_DLQ beside its own CloudEvent headers
// (NewDeadLetter sets them when an event exhausts its retries, ParseDeadLetter reads them).
const (
	HeaderDLQError    = "Sluice-Error"     // the last attempt's FunctionError, JSON, cut to HeaderErrorLimits
	HeaderDLQOutcome  = "Sluice-Outcome"   // the last attempt's outcome
	HeaderDLQAttempts = "Sluice-Attempts"  // attempts made
	HeaderDLQTime     = "Sluice-Failed-At" // when it was dead-lettered, RFC 3339
)

// ExtRedrive is the extension attribute of an event sent back from the DLQ: how many times it
// has been redriven. It also keeps the event's next dead-lettering apart from the last one.
const ExtRedrive = "sluiceredrive"

// HeaderRedrive is ExtRedrive's NATS header.
const HeaderRedrive = headerCE + ExtRedrive

// DeadLetterMsgID is the Nats-Msg-Id of an event's dead letter, one per event id and redrive
// count: an event delivered again is dead-lettered once, a redriven one again.
func DeadLetterMsgID(id string, redrive int) string {
	return "dlq-" + KeyToken(id) + "." + strconv.Itoa(redrive)
}

// RedriveMsgID is the Nats-Msg-Id of the invocation that sends the dead letter at seq in
// SLUICE_DLQ back: two redrives of it at once make one invocation.
func RedriveMsgID(id string, seq uint64) string {
	return "redrive-" + KeyToken(id) + "-" + strconv.FormatUint(seq, 10)
}

// Exhausted is an invocation event that used up its retries, as NewDeadLetter dead-letters it.
type Exhausted struct {
	Function string
	Header   nats.Header // the event's headers as delivered
	Data     []byte      // the event's data
	ID       string      // the event id; empty when the event had none
	Redrive  int         // the event's ExtRedrive count
	Seq      uint64      // the event's stream sequence in SLUICE_INVOKE, to tell apart an event without id
	Attempts int         // attempts made
	Result   Result      // the last attempt's result
	At       time.Time   // when it was dead-lettered
}

// NewDeadLetter makes the SLUICE_DLQ message of an exhausted event: its headers (less its
// Nats-Msg-Id and reply inbox) and data, with the last error (cut to HeaderErrorLimits), the
// outcome, the attempts and the time. Its Nats-Msg-Id is DeadLetterMsgID, so a redelivered
// event is dead-lettered once and a redriven one again; an event without id is told apart by
// its sequence.
func NewDeadLetter(e Exhausted) *nats.Msg {
	m := nats.NewMsg(DLQSubject(e.Function))
	for k, vs := range e.Header {
		if k != nats.MsgIdHdr && k != HeaderReply {
			m.Header[k] = vs
		}
	}
	m.Header.Set(HeaderDLQError, HeaderError(e.Result.Error))
	m.Header.Set(HeaderDLQOutcome, string(e.Result.Outcome))
	m.Header.Set(HeaderDLQAttempts, strconv.Itoa(e.Attempts))
	m.Header.Set(HeaderDLQTime, e.At.UTC().Format(time.RFC3339Nano))
	id := DeadLetterMsgID(e.ID, e.Redrive)
	if e.ID == "" {
		id = "dlq-seq-" + strconv.FormatUint(e.Seq, 10)
	}
	m.Header.Set(nats.MsgIdHdr, id)
	m.Data = e.Data
	return m
}

// DropDeadLetterError leaves the error header out of a dead letter that does not fit the
// stream's message size with it; the whole error stays in the event's result record.
func DropDeadLetterError(m *nats.Msg) { m.Header.Del(HeaderDLQError) }

// EventID returns the CloudEvent id an event's headers carry (its ce-id), empty when absent: of
// a dead letter, what RedriveMsgID names its redrive by.
func EventID(h nats.Header) string { return h.Get(headerCE + "id") }

// EventRedrive returns the ExtRedrive count of an event's headers, 0 when absent.
func EventRedrive(h nats.Header) int {
	n, _ := strconv.Atoi(h.Get(HeaderRedrive))
	return max(n, 0)
}

// DeadLetter is one event in SLUICE_DLQ as the API shows it.
type DeadLetter struct {
	Seq        uint64            `json:"seq"` // stream sequence in SLUICE_DLQ: the handle to show or redrive it
	Function   string            `json:"function"`
	ID         string            `json:"id"` // the CloudEvent id, which is the invocation id
	Type       string            `json:"type,omitempty"`
	Source     string            `json:"source,omitempty"`
	Subject    string            `json:"subject,omitempty"`
	Time       time.Time         `json:"time,omitzero"` // the event's own time
	FailedAt   time.Time         `json:"failedAt,omitzero"`
	Outcome    Outcome           `json:"outcome,omitempty"`
	Attempts   int               `json:"attempts"`
	Redriven   int               `json:"redriven,omitempty"` // times sent back from the DLQ before
	Error      *FunctionError    `json:"error,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"` // every ce- header, with show
	Data       json.RawMessage   `json:"data,omitempty"`       // the event's data, with show
	Size       int               `json:"size"`                 // bytes of data
}

// ParseDeadLetter reads a SLUICE_DLQ record; full adds the attributes and data.
func ParseDeadLetter(fn string, seq uint64, h nats.Header, data []byte, full bool) DeadLetter {
	d := DeadLetter{
		Seq: seq, Function: fn, ID: h.Get(headerCE + "id"), Type: h.Get(headerCE + "type"),
		Source: h.Get(headerCE + "source"), Subject: h.Get(headerCE + "subject"),
		Outcome: Outcome(h.Get(HeaderDLQOutcome)), Size: len(data),
	}
	d.Time, _ = time.Parse(time.RFC3339Nano, h.Get(headerCE+"time"))
	d.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderDLQTime))
	d.Attempts, _ = strconv.Atoi(h.Get(HeaderDLQAttempts))
	d.Redriven, _ = strconv.Atoi(h.Get(HeaderRedrive))
	var fe FunctionError
	if s := h.Get(HeaderDLQError); s != "" && json.Unmarshal([]byte(s), &fe) == nil && (fe.Type != "" || fe.Message != "") {
		d.Error = &fe
	}
	if full {
		d.Attributes = map[string]string{}
		for k, vs := range h {
			if len(vs) > 0 && strings.HasPrefix(strings.ToLower(k), headerCE) {
				d.Attributes[strings.ToLower(k[len(headerCE):])] = vs[0]
			}
		}
		d.Data = RawJSON(data)
	}
	return d
}

// RedriveMsg makes the invocation message that sends a dead-lettered event back to its
// function: the same data and CloudEvent attributes, ExtRedrive counted up, and a new
// Nats-Msg-Id so the invocation stream's duplicate window does not absorb it. The version the
// event was first resolved to and any synchronous deadline are dropped: it runs the function's
// latest version, so a fix deployed since takes effect.
func RedriveMsg(fn string, h nats.Header, data []byte, msgID string) *nats.Msg {
	m := nats.NewMsg(subjectOfHeader(fn, h)) // an ordered event goes back to its key
	n := 0
	for k, vs := range h {
		switch k {
		case nats.MsgIdHdr, HeaderReply, HeaderDLQError, HeaderDLQOutcome, HeaderDLQAttempts, HeaderDLQTime:
			continue
		}
		switch strings.ToLower(k) { // ParseHeaders reads ce- names in any case
		case HeaderRedrive:
			if len(vs) > 0 {
				n, _ = strconv.Atoi(vs[0])
			}
			continue
		case headerCE + ExtVersion, headerCE + ExtDeadline:
			continue
		}
		m.Header[k] = vs
	}
	m.Header.Set(HeaderRedrive, strconv.Itoa(n+1))
	m.Header.Set(nats.MsgIdHdr, msgID)
	m.Data = data
	return m
}
