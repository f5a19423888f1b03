package sluice

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Context is what a handler knows about its invocation, beside ctx's deadline.
type Context struct {
	RequestID          string
	FunctionName       string
	FunctionVersion    string
	MemoryMB           int
	InvokedFunctionARN string
	TraceID            string
	Deadline           time.Time
	// Event holds the CloudEvent attributes of the invocation (id, type, source, subject,
	// time, ...); empty when the platform sent none.
	Event map[string]string
	// Log writes records tagged with the request id to the function's log.
	Log *slog.Logger
}

// RemainingTime is how long the invocation may still run.
func (c *Context) RemainingTime() time.Duration { return time.Until(c.Deadline) }

type contextKey struct{}

// NewContext returns ctx carrying fc; handlers receive one already, tests may build their own.
func NewContext(ctx context.Context, fc *Context) context.Context {
	return context.WithValue(ctx, contextKey{}, fc)
}

// FromContext is the invocation's Context; nil when ctx does not carry one.
func FromContext(ctx context.Context) *Context {
	fc, _ := ctx.Value(contextKey{}).(*Context)
	return fc
}

// Logger is the invocation's logger, or a logger writing to stdout when ctx carries none.
func Logger(ctx context.Context) *slog.Logger {
	if fc := FromContext(ctx); fc != nil && fc.Log != nil {
		return fc.Log
	}
	return newLogger(nil)
}

// newLogger writes text records without a time (each captured line gets its own) to w, stdout
// when nil.
func newLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = stdout
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}
