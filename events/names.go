package events

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Streams, subjects and buckets on the bus (docs/design.md §3).
const (
	StreamInvoke = "SLUICE_INVOKE"
	StreamDLQ    = "SLUICE_DLQ"
	StreamLogs   = "SLUICE_LOGS"
	StreamMeters = "SLUICE_METERS"

	BucketFunctions = "sluice_functions"
	BucketTriggers  = "sluice_triggers"
	BucketScale     = "sluice_scale"
	BucketWorkers   = "sluice_workers"
	BucketResults   = "sluice_results"
	BucketClaims    = "sluice_claims" // instance-slot claims and the scaler lease; expire unless refreshed
	BucketKeys      = "sluice_keys"   // access keys: scope, function pattern, hashed and sealed secret
	ObjectCode      = "sluice_code"

	// IngressSubject takes CloudEvents over NATS (binary or structured mode, or a batch), as
	// POST /v1/events does over HTTP; a request gets the same answer.
	IngressSubject = "sluice.events"

	subjectInvoke = "sluice.invoke."
	subjectDirect = "sluice.direct."
	subjectDLQ    = "sluice.dlq."
	subjectLogs   = "sluice.logs."
	subjectMeters = "sluice.meters."
)

// InvokeSubject is the base subject of one function's invocations: what an outside publisher
// may use. sluice's own publishers (gateway, adapters, redrive) add the event's id as a last
// token (EventSubject), and the function's consumer takes both (InvokeFilters).
func InvokeSubject(fn string) string { return subjectInvoke + fn }

// EventSubject is the subject of one invocation event of fn: InvokeSubject(fn) and the event id's
// KeyToken. The id in the subject is what lets an invocation's status be read while it waits
// (FindQueued) without a record written for it.
func EventSubject(fn, id string) string { return subjectInvoke + fn + "." + KeyToken(id) }

// InvokeFilters are the subjects of fn's consumer: its base subject and its events' subjects.
func InvokeFilters(fn string) []string {
	return []string{InvokeSubject(fn), InvokeSubject(fn) + ".>"}
}

// queuedSubject matches the subject of the event id of any function.
func queuedSubject(id string) string { return subjectInvoke + "*." + KeyToken(id) }

// SubjectFunction returns the function of an invocation subject (base or event).
func SubjectFunction(subject string) string {
	rest, ok := strings.CutPrefix(subject, subjectInvoke)
	if !ok {
		return ""
	}
	fn, _, _ := strings.Cut(rest, ".")
	return fn
}

// DLQSubject is where a function's events go after their last retry.
func DLQSubject(fn string) string { return subjectDLQ + fn }

// LogsSubject carries a function's printed lines, many to a record (LogBatch).
func LogsSubject(fn string) string { return subjectLogs + fn }

// MetersSubject carries one record per attempt: its meter, and its START, END and REPORT lines
// (MeterLines).
func MetersSubject(fn string) string { return subjectMeters + fn }

// MeterMsgID is the Nats-Msg-Id of the meter record of an invocation's attempt, in the
// redrive-th run of its event through the queue (0 before any redrive). A worker stores the
// record before it acknowledges the event, so an event whose worker died between the two is
// delivered again; when that delivery repeats the attempt (the bus lost the delivery count with
// a crash), its record has the same id and SLUICE_METERS's duplicate window (two minutes)
// keeps the first.
func MeterMsgID(invocationID string, redrive, attempt int) string {
	return "meter-" + KeyToken(invocationID) + "." + strconv.Itoa(redrive) + "." + strconv.Itoa(attempt)
}

// ConsumerName is the durable pull consumer every worker shares for one function.
func ConsumerName(fn string) string { return "fn-" + fn }

// ErrInvalidName is returned for a function name that is not a valid subject token.
var ErrInvalidName = errors.New("invalid function name")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidateName checks a function name: a lower-case letter, then up to 62 lower-case letters,
// digits or dashes.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use a lower-case letter, then up to 62 lower-case letters, digits or dashes", ErrInvalidName, name)
	}
	return nil
}
