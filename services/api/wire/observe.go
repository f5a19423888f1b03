package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/meters"
)

// MetricsView is the answer of GET /v1/functions/{name}/metrics.
type MetricsView struct {
	Function    string          `json:"function"`
	Since       time.Time       `json:"since"`
	Until       time.Time       `json:"until"`
	StepSeconds float64         `json:"stepSeconds"`
	Summary     meters.Summary  `json:"summary"`
	Series      []meters.Bucket `json:"series"`
	Scale       ScaleNow        `json:"scale"`
}

// ScaleNow is the scaler's current decision for a function; zeros before the first one.
type ScaleNow struct {
	Lag     int `json:"lag"`
	Desired int `json:"desired"`
	Running int `json:"running"`
}

// ParseDuration reads a duration of the API's queries (since, step): time.ParseDuration's form,
// or whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("duration %q: use a whole number of days like 7d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Pages of the dead-letter list and redrive: a page holds at most DLQPageMax letters (their
// headers only), so neither a node nor a client ever holds a whole queue.
const (
	DLQPageDefault = 100
	DLQPageMax     = 1000
)

// DeadLetters is the answer of GET /v1/functions/{name}/dlq?after=SEQ&limit=N: the letters after
// SEQ, oldest first, at most N (DLQPageDefault, at most DLQPageMax).
type DeadLetters struct {
	Function string              `json:"function"`
	Events   []events.DeadLetter `json:"events"`
	Next     uint64              `json:"next,omitempty"` // more may follow: ask again with after=Next
}

// Redriven is the answer of POST /v1/functions/{name}/dlq/redrive: the letters of ?seq=N[,M...],
// or a page of them, ?after=SEQ&limit=N&through=SEQ.
type Redriven struct {
	Function string          `json:"function"`
	Redriven []RedrivenEvent `json:"redriven"`
	Next     uint64          `json:"next,omitempty"` // more to redrive: ask again with after=Next and through=Through
	// Through is the last letter this redrive goes to: the newest one when the first page was
	// asked for, so events that fail again while it runs are not sent round again.
	Through uint64 `json:"through,omitempty"`
}

// RedrivenEvent is one event sent back to its function.
type RedrivenEvent struct {
	Seq uint64 `json:"seq"` // its sequence in SLUICE_DLQ, now removed
	ID  string `json:"id"`  // the invocation id, unchanged
}

// Purged is the answer of DELETE /v1/functions/{name}/dlq.
type Purged struct {
	Function string `json:"function"`
	Purged   uint64 `json:"purged"`
}
