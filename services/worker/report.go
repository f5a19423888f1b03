package worker

import (
	"context"
	"fmt"
	"math"
	"time"

	"sluice.dev/events"
)

// platformLine queues a line of the platform's own in the function's logs (a warning about an
// attempt; START, END and REPORT are its meter record, see report).
func (w *Worker) platformLine(j job, v events.Version, text string) {
	w.tel.Log(events.LogLine{Time: time.Now(), Function: j.fn, Version: v.Version, InvocationID: j.id, Stream: events.PlatformStream, Message: text})
}

// report publishes the meter record of an attempt, which also stands for its START, END and
// REPORT lines (events.MeterLines renders them for the logs' readers; an attempt no instance
// took has none). It returns once the record is stored on the bus, or with an error once ctx
// ended: the event must then not be acknowledged.
func (w *Worker) report(ctx context.Context, j job, v events.Version, l lease, res events.Result, peak uint64) error {
	m := meterOf(j, v, l, res, peak)
	if err := w.tel.Meter(ctx, m, events.MeterMsgID(j.id, j.redrive, j.attempt)); err != nil {
		return fmt.Errorf("meter record: %w", err)
	}
	return nil
}

// meterOf is the meter record of an attempt.
func meterOf(j job, v events.Version, l lease, res events.Result, peak uint64) events.Meter {
	cold := l.kind != startWarm
	m := events.Meter{
		InvocationID: j.id, Function: j.fn, Version: v.Version, Trigger: j.trigger, Start: res.Started,
		DurationMs: res.DurationMs, BilledMs: int64(math.Ceil(res.DurationMs)), MemoryMB: v.Config.MemoryMB, Outcome: res.Outcome,
		Cold: cold, Attempt: j.attempt, PeakMemoryMB: float64(peak) / (1 << 20), Ran: l.started(),
	}
	if cold {
		m.ColdStart = l.kind.String()
	}
	if l.started() && cold {
		m.InitMs = l.initMs()
	}
	return m
}
