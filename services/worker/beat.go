package worker

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
)

// BeatInterval is how often a worker writes its heartbeat to sluice_workers.
const BeatInterval = 3 * time.Second

// DefaultMemoryBudgetMB is the memory budget of a worker given none: half of the machine's
// memory, or 2048 MB where that cannot be read.
func DefaultMemoryBudgetMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 2048
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.Atoi(fields[1]); err == nil && kb > 0 {
				return max(kb/1024/2, 256)
			}
		}
	}
	return 2048
}

// keepalive writes the heartbeat every BeatInterval and refreshes held claims every third of
// the claims' TTL until ctx ends.
func (w *Worker) keepalive(ctx context.Context) {
	every := w.claimTTL / 3
	if every <= 0 || every > BeatInterval {
		every = min(BeatInterval, max(every, 100*time.Millisecond))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Time{}
	for {
		if now := time.Now(); now.Sub(last) >= BeatInterval-every/2 {
			w.beat(ctx, w.draining.Load())
			last = now
		}
		w.claims.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat is the worker's heartbeat as it would write it now.
func (w *Worker) Beat() events.WorkerBeat {
	used, budget := w.claims.usage()
	b := events.WorkerBeat{
		ID: w.id, Host: w.host, Started: w.started, Updated: time.Now().UTC(), Runtimes: w.rt.IDs(),
		MemoryBudgetMB: budget, MemoryUsedMB: used,
	}
	b.Instances, b.Busy, b.Active = w.instances.activity(time.Now().Add(-activeWindow))
	return b
}

// beat writes the heartbeat; draining marks a worker that stops taking events.
func (w *Worker) beat(ctx context.Context, draining bool) {
	b := w.Beat()
	b.Draining = draining
	if err := events.PutWorkerBeat(ctx, w.beats, b); err != nil && ctx.Err() == nil {
		w.logger.Warn("heartbeat", "err", err)
	}
}
