// Package sluice is sluice's small Go SDK for functions: Start runs a typed handler behind the
// Lambda Runtime API, with nothing but the standard library.
//
//	func handler(ctx context.Context, in Input) (Output, error) {
//		fc := sluice.FromContext(ctx)
//		fc.Log.Info("hello", "name", in.Name)
//		return Output{Message: "Hello, " + in.Name}, nil
//	}
//
//	func main() { sluice.Start(handler) }
//
// # The handler
//
// A handler is func(context.Context, T) (R, error) for any T and R. The invocation's payload is
// decoded into T with encoding/json ([]byte and json.RawMessage receive it as is; an empty
// payload leaves T's zero value); R is encoded with encoding/json ([]byte and json.RawMessage
// are sent as is). A payload that does not decode fails the invocation with errorType
// Runtime.UnmarshalError and the instance stays warm.
//
// An error fails the invocation: its errorMessage is err.Error() and its errorType is the first
// ErrorType() string found along err's chain (Error carries one), else the error's Go type name
// as aws-lambda-go reports it ("errorString", "wrapError", "MyError"). A panic fails the
// invocation with errorType Runtime.Panic and a stack trace, then the process exits, so the next
// invocation starts from a fresh process. A handler that never returns is ended by the
// platform at the invocation's deadline, a time-out; Go's deadlock detector does not end it
// first, even when nothing else runs in the process (the process ends by itself only 30 s past
// the deadline, for a Runtime API that does not end it).
//
// # The context
//
// ctx carries the invocation's deadline (ctx.Deadline) and a *Context (FromContext): request
// id, function name and version, memory limit, invoked function ARN, trace id, the CloudEvent
// attributes of the event (id, type, source, subject, time; from the Sluice-Event-Attributes
// header) and a log/slog logger that tags each record with the request id. Whatever the
// function prints on stdout or stderr is captured as its log lines.
//
// # Getting the SDK at deploy
//
// A function's go.mod requires sluice.dev/sdk (any version, v0.0.0 is fine). sluice's go build
// step writes this module's own files (Source) into its build cache and points the function's
// go.mod at them with a replace directive, so no module host is involved; for local builds,
// replace sluice.dev/sdk with a checkout of this folder.
package sluice
