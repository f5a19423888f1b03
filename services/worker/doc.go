// Package worker runs functions: for every deployed function it pulls invocation events from the
// function's shared durable consumer, runs them on warm or newly started instances, answers
// synchronous callers on their reply inbox and records async results in sluice_results.
//
// One delivery follows these steps (handle.go, docs/design.md §4), each a small function:
// parse the CloudEvent → recall what is known of it already (an outcome held here for its write,
// a recorded outcome, the attempt it makes: records.go) → expire a synchronous call whose caller
// gave up → resolve its version → acquire an instance → invoke → release the instance (before
// the answer, so a caller's next call finds it free) → answer a synchronous caller → report (the meter record, also START, END and REPORT: report.go) → finish
// (finish.go). A step that ends the delivery early returns its outcome instead of going on, and
// finish alone turns every outcome into the event's acknowledgement: success → result written,
// then Ack; a failure with retries left → NakWithDelay(backoff); no retries left, or an event
// that can never succeed (malformed, naming no version) → publish to SLUICE_DLQ, write the failed
// result, then Term; a synchronous caller's deadline passed → Term; no instance slot here →
// NakWithDelay(capacityRetry); an event whose outcome is recorded already → Ack (or Term),
// without a run; a meter record that could not be stored → no acknowledgement, the event comes
// back after the ack wait. While an event is handled (a cold start, a long run) → InProgress
// every third of the ack wait (events.AckWait), so a dead worker's events come back within about
// AckWait; InProgress is a heartbeat that ends no delivery, sent from where the delivery runs and
// stopped before finish acknowledges.
//
// Synchronous calls may also come without the stream (direct.go): offered on the function's
// direct subject by a gateway, or handed to Call by a gateway in the same process. Either runs
// on a free warm instance, under a slot the pool holds, and goes invoke → release → answer →
// report, with no delivery to acknowledge; with no such instance the caller stores the event.
// One exception: a call handed to Call that finds no free warm instance takes room as a
// delivered event would (a slot held with room, or the pool's probe) and starts an instance
// there, claiming its slot meanwhile when it has none, as a delivered event's cold start.
//
// Acquiring an instance is one seam (acquire.go): instances.Acquire gives a lease on room for one
// invocation, and lease.Release gives it back; behind it are the function's pool of instances
// (pool.go), the instance slots claimed on the bus (claims.go), starting processes (launch.go)
// and making room in the memory budget. The same seam keeps the instances between events
// (keep.go: min instances, the scaler's desired count, idle timeouts) and admits the events the
// pull loop takes (pull.go). The worker's own lifecycle (functions served, drain) is in
// worker.go, its heartbeat in beat.go, following the scaler in desired.go.
//
// Attempts come from the bus: JetStream's delivery count, less the deliveries handed back
// without a run for lack of a slot (counted under events.HandbackKey in sluice_results before
// the event goes back). No record that may be missing can reset them: a result that could not be
// written costs no extra run, and an event fails into the DLQ after retries+1 runs. A delivery
// lost with a worker that died counts as an attempt (it may have run the function; an event
// that kills its worker must not come back forever).
//
// Writes: a function's error is cut to events.RecordErrorLimits as soon as it is known (the
// dead letter's header to events.HeaderErrorLimits), so every record fits the bucket. A result or
// dead letter that cannot be written is tried again writeTries times with a doubling wait, and
// for up to writeFor while it fails for want of the bus (a NATS node or a stream leader lost and
// being replaced); if it still fails, the worker holds the outcome in memory (up to maxHeld, for
// heldFor) and naks the event: its redelivery here writes the outcome without running the
// function again. A succeeded result is never acknowledged unwritten. A results bucket that
// refuses a record as too large (a server with a smaller message size) gets it without the
// response (events.Result.Small).
//
// Several workers share a function's max (docs/design.md §7) through instance slots in sluice_claims:
// a worker starts an instance only under a slot it won (Create of ClaimKey(fn, i), the first free
// i below max), refreshes its slots every third of the bucket's TTL and deletes a slot when its
// instance stops. It fetches only while it holds a free slot: as many events in one request as
// its free slots take when events wait, else one; holding none, one probe event whose cold start
// claims the slot (one bus round trip). While events wait and its slots are busy it claims more,
// as spares that an idle second gives back. With no slot to win, an event goes back to the
// consumer for instances elsewhere, and the worker probes again after a second. A dead worker
// stops refreshing, its slots expire and others win them. Slots also bound memory: the sum of the
// memory settings of a worker's slots never exceeds its budget (Options.MemoryBudgetMB). Every
// BeatInterval the worker writes its WorkerBeat to sluice_workers; a graceful stop beats
// draining, finishes the running invocations, gives back its slots and deletes the beat.
//
// Per-instance concurrency: an instance of a function whose concurrency is c runs up to c
// invocations at once, so a slot takes c events; an event goes to the instance of its version
// with the most invocations below c (filling instances before starting more), and events that
// arrive while an instance starts wait for it instead of starting their own. The peak memory an
// invocation reports is its instance's over the invocation (concurrent invocations share it);
// the measurement starts anew when the instance falls idle.
//
// Following the scaler: the worker watches the scaler's decisions in sluice_scale while a scaler
// holds its lease. While events wait, it starts instances ahead of them toward the function's
// desired count (each under a slot below that count, so the workers together start no more
// than it, in parallel, and events take them while they start); an instance idle for a moment
// under a slot at or above the desired count moves to a free slot below it, or stops when every
// slot below is held, so scaling down and to zero follow the scaler's idle window. Without a
// scaler, idle instances stop after the function's idle timeout. Either way the first event of
// a function with no instance starts one at once, without waiting for a decision.
//
// Exactly once where the platform can tell, at least once where it cannot: before running an
// async event the worker reads its record (events.ResultKey), and an event whose success is
// recorded, or that was dead-lettered in this run through the queue (events.Result.Redriven), is
// settled without a run and counted (Duplicates, sluice_duplicate_deliveries_total): a lost
// acknowledgement, a worker that died after the write, an event published again under another
// message id. The window left: a worker that dies between the function's effects and the
// result's write (or whose held outcome's redelivery goes to another worker) leaves an event that
// runs again. A synchronous event has no record: a worker that dies after replying runs it again
// for nobody. A worker that stops gracefully stops pulling (it holds no event it has not
// started) and finishes those in flight.
//
// Cold starts: a function's new instance is, when the worker's warm pool (package
// runtimes/warmpool, sized by Options.Prestart) has a pre-started process of its runtime, that
// process specialised for the function; otherwise a process started for it. Each invocation's
// meter record says how its instance came (ColdStart, and in the REPORT line events.MeterLines
// renders from it: no Init Duration: warm; "Start: pre-started" or "Start: scratch"), and is
// cold for both of the latter. A function's min instances of
// its newest version are started when it appears and never reaped for idleness.
//
// Lock order: pool.mu and claims.mu are taken alone; Worker.mu (the functions served) is never
// held while calling into a pool or the instances.
package worker
