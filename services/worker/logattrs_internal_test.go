package worker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestWithAttrsLogsAsWith(t *testing.T) {
	var lazy, eager bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	log := func(l *slog.Logger) {
		l.Info("one", "n", 1)
		l.With("more", "yes").Warn("two")
		l.WithGroup("g").Info("three", "k", "v")
		l.Debug("not enabled")
	}
	log(withAttrs(slog.New(slog.NewTextHandler(&lazy, opts)), slog.String("function", "f"), slog.Int("attempt", 2)))
	log(slog.New(slog.NewTextHandler(&eager, opts)).With("function", "f", "attempt", 2))
	if lazy.String() != eager.String() {
		t.Errorf("withAttrs logged\n%s\nWith logged\n%s", lazy.String(), eager.String())
	}
	if !strings.Contains(lazy.String(), `level=INFO msg=one function=f attempt=2 n=1`) {
		t.Errorf("attrs not ahead of the record's own: %s", lazy.String())
	}
}
