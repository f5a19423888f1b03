package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Batch is how a trigger groups its events, as Lambda's event source mappings do (BatchSize,
// MaximumBatchingWindow, ReportBatchItemFailures): one invocation gets up to Size of them, as
// {"Records": [...]}, once Size are there or the first has waited Window.
type Batch struct {
	Size   int      `json:"size"`             // records per invocation at most, 1 to MaxBatchSize
	Window Duration `json:"window,omitempty"` // how long the first record waits for more; DefaultBatchWindow when 0
	// ReportItemFailures: the function answers {"batchItemFailures": [{"itemIdentifier": ID}]}
	// and only those records run again (and are dead-lettered once the retries are spent).
	ReportItemFailures bool `json:"reportItemFailures,omitempty"`
}

// Limits of a Batch.
const (
	MaxBatchSize       = 10000
	MaxBatchWindow     = 5 * time.Minute // Lambda's most
	DefaultBatchWindow = 50 * time.Millisecond
)

// Validate checks a batch's size and window.
func (b Batch) Validate() error {
	if b.Size < 1 || b.Size > MaxBatchSize {
		return fmt.Errorf("%w: batch size %d: between 1 and %d", ErrInvalidTrigger, b.Size, MaxBatchSize)
	}
	if w := time.Duration(b.Window); w < 0 || w > MaxBatchWindow {
		return fmt.Errorf("%w: batch window %s: between 0 and %s", ErrInvalidTrigger, w, MaxBatchWindow)
	}
	return nil
}

// WindowOrDefault is the batch's window, DefaultBatchWindow when unset.
func (b Batch) WindowOrDefault() time.Duration {
	if b.Window == 0 {
		return DefaultBatchWindow
	}
	return time.Duration(b.Window)
}

// Extensions of a batch event.
const (
	// ExtBatch marks an event whose data is {"Records": [...]} made by a trigger's batch: "1", or
	// "report" when the function reports the records that failed.
	ExtBatch = "sluicebatch"
	// ExtAttempt is the attempt an event of records that failed before starts at (2 for their
	// first retry): retries of a batch's items count against the function's retries.
	ExtAttempt = "sluiceattempt"
	// ExtNotBefore is when an event may run at the earliest, in Unix milliseconds: the back-off
	// before a batch's failed records run again. A worker hands an earlier delivery back.
	ExtNotBefore = "sluicenotbefore"
)

// BatchReport is the ExtBatch value of a batch whose function reports failed records.
const BatchReport = "report"

// ItemID is the field of a batch record that names it in a function's batchItemFailures.
const ItemID = "messageId"

// Records is a batch event's data.
type Records struct {
	Records []json.RawMessage `json:"Records"`
}

// ErrBadItemFailures marks a batchItemFailures answer that names no record of the batch: as
// Lambda does, the whole batch counts as failed.
var ErrBadItemFailures = errors.New("batchItemFailures names no record of the batch")

// FailedRecords reads a function's answer to a batch: the records of data (a Records document)
// it names in {"batchItemFailures": [{"itemIdentifier": ID}]}, in their order, or none when it
// names none. An answer that names an identifier no record has, or an empty identifier, fails
// the whole batch: every record is returned, with ErrBadItemFailures.
func FailedRecords(data, answer []byte) ([]json.RawMessage, error) {
	var a struct {
		Failures []struct {
			ID *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if json.Unmarshal(answer, &a) != nil || len(a.Failures) == 0 {
		return nil, nil // any other answer is a success of every record
	}
	var in Records
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("batch records: %w", err)
	}
	ids := make([]string, len(in.Records))
	have := map[string]bool{}
	for i, r := range in.Records {
		var item map[string]json.RawMessage
		if json.Unmarshal(r, &item) == nil {
			_ = json.Unmarshal(item[ItemID], &ids[i])
		}
		have[ids[i]] = true
	}
	failed := map[string]bool{}
	for _, f := range a.Failures {
		if f.ID == nil || *f.ID == "" || !have[*f.ID] {
			return in.Records, ErrBadItemFailures
		}
		failed[*f.ID] = true
	}
	var out []json.RawMessage
	for i, r := range in.Records {
		if failed[ids[i]] {
			out = append(out, r)
		}
	}
	return out, nil
}

// RetryOfRecords is the event that runs again the records of ev that failed, at attempt
// (2 for the first retry) and not before notBefore: ev's attributes and extensions, those
// records as its data, and an id made of ev's and the attempt, so that sending it twice runs
// it once.
func RetryOfRecords(ev event.Event, failed []json.RawMessage, attempt int, notBefore time.Time) (event.Event, error) {
	out := ev.Clone()
	base := ev.ID()
	if i := strings.LastIndexByte(base, '~'); i > 0 && EventAttempt(ev) > 1 { // a retry's id is its batch's, once
		base = base[:i]
	}
	out.SetID(fmt.Sprintf("%s~%d", base, attempt))
	out.SetExtension(ExtAttempt, strconv.Itoa(attempt))
	out.SetExtension(ExtNotBefore, strconv.FormatInt(notBefore.UnixMilli(), 10))
	b, err := json.Marshal(Records{Records: failed})
	if err != nil {
		return out, fmt.Errorf("batch records: %w", err)
	}
	out.DataEncoded = b
	out.SetDataContentType(event.ApplicationJSON)
	return out, nil
}

// EventAttempt is the attempt an event starts at: 1, or its ExtAttempt.
func EventAttempt(ev event.Event) int {
	if a, ok := Extension(ev, ExtAttempt); ok {
		if n, err := strconv.Atoi(a); err == nil && n > 1 {
			return n
		}
	}
	return 1
}

// EventNotBefore is when ev may run at the earliest (ExtNotBefore); zero when at once.
func EventNotBefore(ev event.Event) time.Time {
	if v, ok := Extension(ev, ExtNotBefore); ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			return time.UnixMilli(ms)
		}
	}
	return time.Time{}
}
