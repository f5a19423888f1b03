package worker

import (
	"context"
	"log/slog"
	"slices"
)

// withAttrs is logger with attrs on every record it logs, as logger.With(attrs) but formatted
// only when a record is logged: a delivery's logger is made for every event and most log
// nothing, while a text or JSON handler's WithAttrs formats the attributes at once (2% of an
// async event's CPU).
func withAttrs(logger *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	return slog.New(lazyAttrs{inner: logger.Handler(), attrs: attrs})
}

// lazyAttrs hands its attrs to the handler beneath with each record, ahead of the record's own.
type lazyAttrs struct {
	inner slog.Handler
	attrs []slog.Attr
}

func (h lazyAttrs) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lazyAttrs{inner: h.inner, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h lazyAttrs) WithGroup(name string) slog.Handler {
	return h.inner.WithAttrs(h.attrs).WithGroup(name)
}
