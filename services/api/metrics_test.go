package api

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     now.Add(-DefaultMetricsSince),
		"90s":                  now.Add(-90 * time.Second),
		"2h":                   now.Add(-2 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2026-03-01T10:00:00Z": time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parsePeriod(in, DefaultMetricsSince, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("since %q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-5m", "0s", "1.5d", "-2d", "2026-03-02T10:00:00Z"} {
		if _, err := parsePeriod(in, DefaultMetricsSince, now); err == nil {
			t.Errorf("since %q: no error", in)
		}
	}
}
