package worker

import (
	"context"
	"fmt"
	"math"
	"time"

	"sluice.dev/events"
)

// platformLine queues a line of the platform's own in the function's logs.
func (w *Worker) platformLine(j job, v events.Version, text string) {
	w.tel.Log(events.LogLine{Time: time.Now(), Function: j.fn, Version: v.Version, InvocationID: j.id, Stream: "platform", Message: text})
}

// report queues the END and REPORT lines of an attempt and publishes its meter record. It
// returns once the record is stored on the bus, or with an error once ctx ended: the event must
// then not be acknowledged.
func (w *Worker) report(ctx context.Context, j job, v events.Version, l lease, res events.Result, peak uint64) error {
	cold := l.kind != startWarm
	billed := int64(math.Ceil(res.DurationMs))
	m := events.Meter{
		InvocationID: j.id, Function: j.fn, Version: v.Version, Trigger: j.trigger, Start: res.Started,
		DurationMs: res.DurationMs, BilledMs: billed, MemoryMB: v.Config.MemoryMB, Outcome: res.Outcome,
		Cold: cold, Attempt: j.attempt, PeakMemoryMB: float64(peak) / (1 << 20),
	}
	if cold {
		m.ColdStart = l.kind.String()
	}
	if l.started() && cold {
		m.InitMs = l.initMs()
	}
	if l.started() {
		w.platformLine(j, v, "END RequestId: "+j.id)
		line := fmt.Sprintf("REPORT RequestId: %s Duration: %.2f ms Billed Duration: %d ms Memory Size: %d MB", j.id, res.DurationMs, billed, v.Config.MemoryMB)
		if peak > 0 {
			line += fmt.Sprintf(" Max Memory Used: %d MB", (peak+(1<<20)-1)>>20)
		}
		line += " Outcome: " + string(res.Outcome)
		if cold {
			line += fmt.Sprintf(" Init Duration: %.2f ms Start: %s", m.InitMs, l.kind)
		}
		w.platformLine(j, v, line)
	}
	if err := w.tel.Meter(ctx, m, events.MeterMsgID(j.id, j.redrive, j.attempt)); err != nil {
		return fmt.Errorf("meter record: %w", err)
	}
	return nil
}
