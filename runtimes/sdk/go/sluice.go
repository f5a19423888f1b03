package sluice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// stdout is where loggers write; a variable of the package only so that nothing else differs
// between a test and a function.
var stdout io.Writer = os.Stdout

// Error is an error with a type of its own, reported to the caller as errorType.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string     { return e.Message }
func (e *Error) ErrorType() string { return e.Type }

// Start runs handler for every invocation the Runtime API (AWS_LAMBDA_RUNTIME_API) hands in,
// forever. It exits the process with status 1 when the Runtime API cannot be spoken to, and
// after a handler panicked (the panic is reported as the invocation's error first).
func Start[T, R any](handler func(context.Context, T) (R, error)) {
	if err := Run(context.Background(), os.Getenv, handler); err != nil {
		fmt.Fprintf(os.Stderr, "sluice: %v\n", err)
		os.Exit(1)
	}
}

// FailInit reports that the function cannot start (a missing setting, a resource it cannot
// open) to the Runtime API's /init/error, with err's message and type as a handler error has
// them, and exits the process with status 1. Call it before Start.
func FailInit(err error) {
	e := errorBody{Type: errorType(err), Message: err.Error()}
	fmt.Fprintf(os.Stderr, "sluice: init failed: %s: %s\n", e.Type, e.Message)
	if addr := os.Getenv("AWS_LAMBDA_RUNTIME_API"); addr != "" {
		if perr := newClient(addr).initError(context.Background(), e); perr != nil {
			fmt.Fprintf(os.Stderr, "sluice: %v\n", perr)
		}
	}
	os.Exit(1)
}

// Run is Start's loop, returning its error instead of exiting: when ctx ends, the Runtime API
// fails, or the handler panicked. getenv reads the instance's environment.
func Run[T, R any](ctx context.Context, getenv func(string) string, handler func(context.Context, T) (R, error)) error {
	addr := getenv("AWS_LAMBDA_RUNTIME_API")
	if addr == "" {
		return errors.New("AWS_LAMBDA_RUNTIME_API is not set: run this binary as a sluice (or Lambda) function")
	}
	c := newClient(addr)
	mem, _ := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	base := Context{
		FunctionName:    getenv("AWS_LAMBDA_FUNCTION_NAME"),
		FunctionVersion: getenv("AWS_LAMBDA_FUNCTION_VERSION"),
		MemoryMB:        mem,
	}
	log := newLogger(nil)
	inv, err := c.next(ctx)
	for {
		if err != nil {
			return err
		}
		fc := base
		fc.RequestID, fc.InvokedFunctionARN, fc.TraceID = inv.id, inv.arn, inv.traceID
		fc.Deadline, fc.Event = inv.deadline, inv.event
		fc.Log = log.With("requestId", inv.id)
		body, fail, panicked := invoke(ctx, &fc, inv.payload, handler)
		a := response(inv.id, body)
		if fail != nil {
			// The error goes to the function's log too, as Lambda's runtimes print it.
			line, _ := json.Marshal(fail)
			fmt.Fprintf(os.Stderr, "%s\n", line)
			a = failure(inv.id, *fail)
		}
		if panicked {
			if err := c.post(ctx, a); err != nil {
				fmt.Fprintf(os.Stderr, "sluice: %v\n", err)
			}
			return fmt.Errorf("the handler panicked: %s", fail.Message)
		}
		// The answer and the ask for the next invocation go in one write.
		inv, err = c.answerThenNext(ctx, a)
		var refused *statusError
		if errors.As(err, &refused) {
			fmt.Fprintf(os.Stderr, "sluice: %v\n", err)
			err = nil
		}
	}
}

// invoke decodes the payload, calls handler under the invocation's deadline and encodes its
// answer: the response body, or the error to report (and whether it was a panic).
func invoke[T, R any](ctx context.Context, fc *Context, payload []byte, handler func(context.Context, T) (R, error)) (body []byte, fail *errorBody, panicked bool) {
	var in T
	if err := decode(payload, &in); err != nil {
		return nil, &errorBody{Type: "Runtime.UnmarshalError", Message: fmt.Sprintf("decode the event into %T: %v", in, err)}, false
	}
	ctx, cancel := context.WithDeadline(NewContext(ctx, fc), fc.Deadline)
	defer cancel()
	defer overrun(fc).Stop()
	out, err := call(ctx, handler, in)
	var p *panicError
	switch {
	case errors.As(err, &p):
		return nil, &errorBody{Type: "Runtime.Panic", Message: fmt.Sprint(p.value), Trace: p.stack}, true
	case err != nil:
		return nil, &errorBody{Type: errorType(err), Message: err.Error()}, false
	}
	if body, err = encode(out); err != nil {
		return nil, &errorBody{Type: "Runtime.MarshalError", Message: fmt.Sprintf("encode the result %T: %v", out, err)}, false
	}
	return body, nil, false
}

// overrunGrace is how long past its deadline a handler that has not returned keeps the process:
// the platform ends an invocation at its deadline, and this is only for a Runtime API that does
// not.
const overrunGrace = 30 * time.Second

// overrun arms a timer for the invocation of fc that ends the process overrunGrace past its
// deadline. A timer pending is also what keeps Go's deadlock detector from ending the process
// while a handler blocks for good with nothing else running: without it the detector would, as
// soon as the context's own timer fired at the deadline, and the platform would see a crash
// (exit status 2) where the function timed out.
func overrun(fc *Context) *time.Timer {
	wait := overrunGrace
	if !fc.Deadline.IsZero() {
		wait += time.Until(fc.Deadline)
	}
	id := fc.RequestID
	return time.AfterFunc(wait, func() {
		fmt.Fprintf(os.Stderr, "sluice: invocation %s: the handler has not returned %s after its deadline\n", id, overrunGrace)
		os.Exit(1)
	})
}

type panicError struct {
	value any
	stack []string
}

func (p *panicError) Error() string { return fmt.Sprint("panic: ", p.value) }

func call[T, R any](ctx context.Context, handler func(context.Context, T) (R, error), in T) (out R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: strings.Split(strings.TrimSpace(string(debug.Stack())), "\n")}
		}
	}()
	return handler(ctx, in)
}

func decode(payload []byte, in any) error {
	switch p := in.(type) {
	case *[]byte:
		*p = append([]byte(nil), payload...)
		return nil
	case *json.RawMessage:
		*p = append(json.RawMessage(nil), payload...)
		return nil
	}
	if len(payload) == 0 {
		return nil
	}
	return json.Unmarshal(payload, in)
}

func encode(out any) ([]byte, error) {
	switch o := out.(type) {
	case []byte:
		return o, nil
	case json.RawMessage:
		return o, nil
	}
	return json.Marshal(out)
}

// errorType is the first ErrorType() along err's chain, else err's Go type name.
func errorType(err error) string {
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) && typed.ErrorType() != "" {
		return typed.ErrorType()
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "error"
	}
	return t.Name()
}
