package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\": %w", err)
	}
	*d = Duration(n)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is a function's settings: everything a deploy fixes besides the code.
type Config struct {
	Runtime     string            `json:"runtime"`
	Handler     string            `json:"handler"`
	MemoryMB    int               `json:"memoryMB"`
	Timeout     Duration          `json:"timeout"`
	Env         map[string]string `json:"env,omitempty"`
	Min         int               `json:"min"`
	Max         int               `json:"max"`
	Concurrency int               `json:"concurrency"`
	IdleTimeout Duration          `json:"idleTimeout"`
	Retries     int               `json:"retries"`               // async retries before the DLQ
	Public      bool              `json:"public,omitempty"`      // function URL callable without a token
	PublicAsync bool              `json:"publicAsync,omitempty"` // and asynchronously so (X-Sluice-Invocation-Type: Event)
	Description string            `json:"description,omitempty"`
	// MaxEventAge is how long an asynchronous event may wait, retries included, before it is
	// dead-lettered unrun (condition EventAgeExceeded); 0: DefaultMaxEventAge.
	MaxEventAge Duration `json:"maxEventAge,omitempty"`
	// OnSuccess and OnFailure are where the outcome of an asynchronous invocation goes, as a
	// DestinationRecord (ParseDestination); failures are dead-lettered besides.
	OnSuccess string `json:"onSuccess,omitempty"`
	OnFailure string `json:"onFailure,omitempty"`
	// Reserved is a reserved concurrency, as Lambda's PutFunctionConcurrency sets it; 0 for
	// none. Max equals it, and a gateway refuses (429) synchronous calls of the function beyond
	// it instead of letting them wait for a free instance.
	Reserved int `json:"reserved,omitempty"`
	// LambdaRuntime is the runtime identifier of AWS Lambda (python3.12, provided.al2023, ...)
	// the function was given through the Lambda API, which that API answers back; Runtime is
	// what runs it.
	LambdaRuntime string `json:"lambdaRuntime,omitempty"`
}

// Defaults of a function's settings (docs/design.md §7, and AWS Lambda's).
const (
	DefaultMemoryMB    = 128
	DefaultTimeout     = 30 * time.Second
	DefaultMax         = 10
	DefaultConcurrency = 1
	DefaultIdleTimeout = 60 * time.Second
	DefaultRetries     = 2
	DefaultMaxEventAge = 6 * time.Hour // Lambda's, and its most
)

// CodeRef names a code package in the object store.
type CodeRef struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Version is one immutable deploy of a function. Stored under VersionKey.
type Version struct {
	Function string     `json:"function"`
	Version  int        `json:"version"`
	Config   Config     `json:"config"`
	Code     CodeRef    `json:"code"` // what instances run: the upload, or what its build made
	Build    *BuildInfo `json:"build,omitempty"`
	Origin   string     `json:"origin,omitempty"` // where the code came from when not uploaded: "s3://b/k", "edit of main.py on version 3"
	Created  time.Time  `json:"created"`
}

// Source is the package the version was deployed from: the build's source when it was built,
// else the code it runs.
func (v Version) Source() CodeRef {
	if v.Build != nil {
		return v.Build.Source
	}
	return v.Code
}

// BuildInfo records the deploy-time build of a version whose runtime compiles code (C#, Go).
type BuildInfo struct {
	Source     CodeRef `json:"source"` // the uploaded package the build started from
	Output     string  `json:"output,omitempty"`
	DurationMs float64 `json:"durationMs"`
}

// Function is the head record of a function: its newest version and aliases. Stored under
// FunctionKey.
type Function struct {
	Name    string           `json:"name"`
	Latest  int              `json:"latest"`
	Aliases map[string]Alias `json:"aliases,omitempty"`
	Created time.Time        `json:"created"`
	Updated time.Time        `json:"updated"`
}

// Alias is a name for a version of a function, as Lambda's aliases: invocations of NAME:ALIAS
// run Version, or, when Additional is set, Additional.Version for that share of them (a canary).
type Alias struct {
	Version    int       `json:"version"`
	Additional *Weighted `json:"additional,omitempty"`
	Updated    time.Time `json:"updated,omitzero"`
}

// Weighted is a second version of an alias and the share of invocations it gets, between 0 and
// 1 exclusive (0.1 sends one invocation in ten to Version).
type Weighted struct {
	Version int     `json:"version"`
	Weight  float64 `json:"weight"`
}

// Pick returns the version an invocation runs, given a number drawn uniformly from [0, 1): the
// additional version when draw falls under its weight, else the alias's version.
func (a Alias) Pick(draw float64) int {
	if a.Additional != nil && draw < a.Additional.Weight {
		return a.Additional.Version
	}
	return a.Version
}

// Uses reports whether the alias sends any invocation to version n.
func (a Alias) Uses(n int) bool {
	return a.Version == n || (a.Additional != nil && a.Additional.Version == n)
}

// UnmarshalJSON reads an alias object, or a bare version number (the form of earlier records).
func (a *Alias) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*a = Alias{Version: n}
		return nil
	}
	type plain Alias
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("alias: %w", err)
	}
	*a = Alias(p)
	return nil
}

// FunctionKey is the sluice_functions key of a function's head record.
func FunctionKey(name string) string { return name }

// VersionKey is the sluice_functions key of one immutable version.
func VersionKey(name string, version int) string { return name + ".v" + strconv.Itoa(version) }

// IsVersionKey reports whether a sluice_functions key is a VersionKey (else it is a FunctionKey).
func IsVersionKey(key string) bool { return strings.Contains(key, ".") }

// EncodeFunction is the sluice_functions record of a function's head, under FunctionKey.
func EncodeFunction(f Function) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode function %s: %w", f.Name, err)
	}
	return b, nil
}

// DecodeFunction reads a head record made by EncodeFunction.
func DecodeFunction(b []byte) (Function, error) {
	return decodeJSON[Function](b, "function record")
}

// EncodeVersion is the sluice_functions record of one version, under VersionKey.
func EncodeVersion(v Version) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode function %s version %d: %w", v.Function, v.Version, err)
	}
	return b, nil
}

// DecodeVersion reads a version record made by EncodeVersion.
func DecodeVersion(b []byte) (Version, error) {
	return decodeJSON[Version](b, "version record")
}

// Status of an invocation.
type Status string

// Invocation states, in order.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Outcome of one invocation attempt; each reaches the caller, the logs and the meters.
type Outcome string

// Outcomes.
const (
	OutcomeOK        Outcome = "ok"
	OutcomeError     Outcome = "error"     // the handler returned or raised an error
	OutcomeTimeout   Outcome = "timeout"   // ran past the function's timeout; instance killed
	OutcomeCrash     Outcome = "crash"     // the instance process died
	OutcomeOOM       Outcome = "oom"       // the instance exceeded its memory limit
	OutcomeInit      Outcome = "init"      // the handler could not be loaded
	OutcomeThrottled Outcome = "throttled" // no capacity within the deadline
	OutcomeRejected  Outcome = "rejected"  // the event or function was invalid; never retried
)

// FunctionError is a handler's error in the Lambda Runtime API's shape.
type FunctionError struct {
	Type    string   `json:"errorType"`
	Message string   `json:"errorMessage"`
	Trace   []string `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Result is an invocation's status and, once finished, its outcome. Async results are kept in the
// sluice_results bucket under ResultKey(id), encoded by EncodeResult; sync results travel on the
// reply subject.
type Result struct {
	ID       string  `json:"id"` // the invocation id as it came, whatever its key
	Function string  `json:"function"`
	Version  int     `json:"version,omitempty"`
	Status   Status  `json:"status"`
	Outcome  Outcome `json:"outcome,omitempty"`
	Attempts int     `json:"attempts,omitempty"` // runs of the function, counted from the bus's deliveries
	// FailedItems counts the records of a batch that the function reported failed
	// (batchItemFailures): they run again as an event of their own, or are dead-lettered.
	FailedItems int `json:"failedItems,omitempty"`
	// Redriven is the event's ExtRedrive when this record was written: a failed record of the
	// same count means the event is dead-lettered, one of a lower count is from before a redrive.
	Redriven       int             `json:"redriven,omitempty"`
	Payload        json.RawMessage `json:"result,omitempty"`
	PayloadOmitted int             `json:"resultOmittedBytes,omitempty"` // size of a response the record could not hold
	Error          *FunctionError  `json:"error,omitempty"`
	Enqueued       time.Time       `json:"enqueued,omitzero"`
	Started        time.Time       `json:"started,omitzero"`
	Finished       time.Time       `json:"finished,omitzero"`
	DurationMs     float64         `json:"durationMs,omitempty"`
	// LogTail is the end of the attempt's log (its START line, what it printed, END and REPORT),
	// at most LogTailBytes: only in the reply to a synchronous call whose event asked for it
	// (ExtLogTail), never recorded.
	LogTail string `json:"-"`
}

// RawJSON returns b when it is a JSON document, else b as a JSON string, so that any function
// response can sit inside a JSON record.
func RawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b)) // a string always marshals
	return s
}

// LogLine is one line printed by a function, or a platform line (a marker of dropped lines, a
// warning; START, END and REPORT are rendered from the meter record by MeterLines). On the bus
// lines travel in batches (LogBatch); the logs API writes each as this JSON.
type LogLine struct {
	Time         time.Time `json:"time"`
	Function     string    `json:"function"`
	Version      int       `json:"version,omitempty"`
	Instance     string    `json:"instance,omitempty"`
	InvocationID string    `json:"invocationId,omitempty"`
	Stream       string    `json:"stream"` // stdout, stderr or platform
	Message      string    `json:"message"`
}

// Meter is the billing and monitoring record of one finished attempt. It also stands for the
// attempt's START, END and REPORT lines (MeterLines), which are not published as lines.
type Meter struct {
	InvocationID string    `json:"invocationId"`
	Function     string    `json:"function"`
	Version      int       `json:"version"`
	Trigger      string    `json:"trigger"`
	Start        time.Time `json:"start"`
	DurationMs   float64   `json:"durationMs"`
	BilledMs     int64     `json:"billedMs"`
	MemoryMB     int       `json:"memoryMB"`
	PeakMemoryMB float64   `json:"peakMemoryMB,omitempty"`
	Outcome      Outcome   `json:"outcome"`
	Cold         bool      `json:"cold"`
	ColdStart    string    `json:"coldStart,omitempty"` // how a cold instance came: "pre-started" or "scratch"
	InitMs       float64   `json:"initMs,omitempty"`
	Attempt      int       `json:"attempt"`
	// Ran says an instance took the event (it started and was handed the invocation): only
	// such an attempt has START, END and REPORT lines. Records written before this field had
	// those lines on SLUICE_LOGS instead, and read as false.
	Ran bool `json:"ran,omitempty"`
}

// decodeJSON reads a JSON record of type T; what names the record in the error.
func decodeJSON[T any](b []byte, what string) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T // no half-read record
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}
