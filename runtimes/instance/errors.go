package instance

import (
	"errors"
	"strings"
)

// Sentinels, checkable with errors.Is on every error of this package.
var (
	ErrInit    = errors.New("instance init failed")    // the handler could not be loaded, or the process ended before it was ready
	ErrTimeout = errors.New("invocation timed out")    // the deadline or ctx passed; the instance was killed
	ErrCrashed = errors.New("instance crashed")        // the process died on its own
	ErrOOM     = errors.New("memory limit exceeded")   // the sandbox's memory limit killed the process
	ErrClosed  = errors.New("instance closed")         // Close was called
	ErrBusy    = errors.New("instance busy")           // another Invoke is in flight
	ErrConfig  = errors.New("invalid instance config") // Config or Request is unusable
)

// FunctionError is the error a handler reported, in the Lambda Runtime API's shape.
type FunctionError struct {
	Type    string   `json:"errorType"`
	Message string   `json:"errorMessage"`
	Trace   []string `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Failure is the error of a failed Start or Invoke: its Kind (ErrInit, ErrTimeout, ErrCrashed, ErrOOM)
// and what is known about why. errors.Is matches Kind and Err; errors.As finds the Failure.
type Failure struct {
	Kind     error          // ErrInit, ErrTimeout, ErrCrashed or ErrOOM
	Function *FunctionError // what the bootstrap reported (to /init/error), if anything
	Exit     string         // how the process ended ("exit status 3", "signal: killed"); "" if it had not
	Stderr   []string       // the last lines the process wrote to stderr, oldest first
	Err      error          // an underlying cause (a context's error, an exec error), or nil
}

func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString(f.Kind.Error())
	sep := ": "
	add := func(s string) {
		if s != "" {
			b.WriteString(sep)
			b.WriteString(s)
			sep = "; "
		}
	}
	if f.Function != nil {
		add(f.Function.Error())
	}
	if f.Err != nil {
		add(f.Err.Error())
	}
	add(f.Exit)
	if n := len(f.Stderr); n > 0 {
		add("stderr: " + strings.Join(f.Stderr[max(0, n-5):], " | "))
	}
	return b.String()
}

// Unwrap gives Kind and Err to errors.Is and errors.As.
func (f *Failure) Unwrap() []error {
	if f.Err == nil {
		return []error{f.Kind}
	}
	return []error{f.Kind, f.Err}
}
