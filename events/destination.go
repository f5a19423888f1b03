package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// A destination is where the outcome of an asynchronous invocation is sent (Config.OnSuccess,
// Config.OnFailure), as a DestinationRecord:
//
//	function:NAME   an asynchronous invocation of function NAME, the record as its event
//	nats:SUBJECT    a message on SUBJECT (stored when a stream takes the subject)
//	dlq             the function's dead-letter queue (failures only: where they go anyway)
//
// A record sent to a function carries ExtHops, one more than its cause's: a chain of functions
// that send to each other, or a function that sends to itself, stops after MaxHops.

// Destination kinds.
const (
	DestinationFunction = "function"
	DestinationNATS     = "nats"
	DestinationDLQ      = "dlq"
)

// ExtHops counts the destinations an invocation event came through: 0 (absent) for one sent from
// outside.
const ExtHops = "sluicehops"

// HeaderHops carries ExtHops on a destination's NATS message, so a queue trigger that takes
// the subject passes the count on and a loop through it stops too.
const HeaderHops = "Sluice-Hops"

// MaxHops is the most destinations in a row: an outcome of an event that came through MaxHops is
// not sent on.
const MaxHops = 8

// EventHops is the destinations and routings ev came through (ExtHops): 0 when none or
// unreadable, at most MaxHops.
func EventHops(ev event.Event) int {
	if v, ok := Extension(ev, ExtHops); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return min(n, MaxHops)
		}
	}
	return 0
}

// Destination is a parsed destination.
type Destination struct {
	Kind   string // DestinationFunction, DestinationNATS or DestinationDLQ
	Target string // the function name or subject
}

// ParseDestination reads a destination; "" is none. A Lambda function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME) names a function.
func ParseDestination(s string) (Destination, error) {
	if s == "" {
		return Destination{}, nil
	}
	if rest, ok := strings.CutPrefix(s, "arn:aws:lambda:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) == 4 && parts[2] == "function" {
			s = DestinationFunction + ":" + parts[3]
		}
	}
	if s == DestinationDLQ {
		return Destination{Kind: DestinationDLQ}, nil
	}
	kind, target, ok := strings.Cut(s, ":")
	switch {
	case ok && kind == DestinationFunction:
		if err := ValidateName(target); err != nil {
			return Destination{}, fmt.Errorf("destination %q: %w", s, err)
		}
	case ok && kind == DestinationNATS:
		if target == "" || strings.ContainsAny(target, " \t\r\n*>") || strings.HasPrefix(target, "sluice.") ||
			strings.HasPrefix(target, "$") || strings.HasPrefix(target, "_INBOX.") {
			return Destination{}, fmt.Errorf("destination %q: a NATS subject without wildcards or spaces, outside sluice.>, $... and _INBOX.>", s)
		}
	default:
		return Destination{}, fmt.Errorf("destination %q: use function:NAME, nats:SUBJECT or dlq", s)
	}
	return Destination{Kind: kind, Target: target}, nil
}

func (d Destination) String() string {
	if d.Kind == DestinationDLQ || d.Kind == "" {
		return d.Kind
	}
	return d.Kind + ":" + d.Target
}

// Conditions of a DestinationRecord, as Lambda names them.
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// DestinationRecord is what a destination receives: Lambda's invocation record.
type DestinationRecord struct {
	Version         string          `json:"version"`
	Timestamp       time.Time       `json:"timestamp"`
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext ResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload,omitempty"`
}

// RequestContext says which invocation a DestinationRecord is of, and why it was sent.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is how the last attempt ended.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// NewDestinationRecord describes the outcome res of an invocation of fn, whose event held
// request, for a destination.
func NewDestinationRecord(fn string, request []byte, res Result, condition string, at time.Time) DestinationRecord {
	r := DestinationRecord{
		Version: "1.0", Timestamp: at.UTC(),
		RequestContext: RequestContext{RequestID: res.ID, FunctionArn: fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:%s:%d", fn, res.Version),
			Condition: condition, ApproximateInvokeCount: max(res.Attempts, 1)},
		RequestPayload:  RawJSON(request),
		ResponseContext: ResponseContext{StatusCode: 200, ExecutedVersion: fmt.Sprint(res.Version)},
	}
	if r.RequestPayload == nil {
		r.RequestPayload = json.RawMessage("null")
	}
	switch {
	case res.Outcome == OutcomeOK:
		r.ResponsePayload = RawJSON(res.Payload)
	case res.Error != nil:
		r.ResponseContext.FunctionError = "Unhandled"
		r.ResponsePayload, _ = json.Marshal(res.Error) // strings only
	default:
		r.ResponseContext.FunctionError = "Unhandled"
	}
	return r
}
