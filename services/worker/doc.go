// Package worker runs functions: for every deployed function it pulls invocation events from the
// function's shared durable consumer, runs them on warm or newly started instances (never more
// than the function's max at once on this worker), answers synchronous callers on their reply
// inbox, records async results in sluice_results, and maps every outcome to the event's
// acknowledgement in one place (finish): success → Ack; a failure with retries left →
// NakWithDelay(backoff); no retries left, or an event that can never succeed → publish to
// SLUICE_DLQ, then Term; a long run → InProgress well inside the ack wait.
//
// Delivery is at least once: a worker that dies mid-invocation leaves the event unacknowledged and
// JetStream redelivers it. A worker that stops gracefully stops pulling, hands back events it had
// fetched but not started, and finishes those in flight.
//
// Cold starts: a function's new instance is, when the worker's warm pool (package
// runtimes/warmpool, sized by Options.Prestart) has a pre-started process of its runtime, that
// process specialised for the function; otherwise a process started for it. Each invocation's
// REPORT line says how its instance came (no Init Duration: warm; "Start: pre-started" or
// "Start: scratch"), and its meter is cold for both of the latter. A function's min instances of
// its newest version are started when it appears and never reaped for idleness.
//
// Lock order: pool.mu is taken alone; Worker.mu is never held while calling into a pool.
package worker
