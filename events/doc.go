// Package events is sluice's contract with itself: the names of every subject, stream, key-value
// bucket and object store on the bus (see names.go), their configurations (Ensure creates them all
// idempotently), the CloudEvent codec used on NATS (binary mode, "ce-" headers, Nats-Msg-Id = event
// id), and the records that travel between services: function versions, invocation results,
// batches of log lines and meter records (telemetry.go).
//
// BusOptions.Replicas sets the replicas of every stream, bucket and object store (3 on a
// cluster); 0 keeps what they have (1 for new ones). With more than one, the buckets and the object store are read from their stream's
// leader (direct gets off), so that a write acknowledged to one role is what every other role
// reads next; see replicas.go.
//
// Outside ids (event ids from queues and buckets, AMQP message-ids, HTTP callers' ids) become
// keys, subject tokens and message ids only through KeyToken: plain ids as they are, others
// hashed (keys.go). The id itself stays in the event (ce-id) and in the records, and is how the
// API finds them.
//
// Sizes (cut.go): a function's error is cut before anything encodes it, errorType to 1 KiB,
// errorMessage to 256 KiB, stackTrace to 256 KiB and 1000 frames, each part with a marker saying
// how much was cut; a dead letter's Sluice-Error header to 256 B, 2 KiB, 2 KiB and 32 frames. So
// every result record fits sluice_results (MaxRecord, 6 MiB + 64 KiB): a JSON response up to the
// 6 MiB limit is kept whole, and only a non-JSON response that escapes past it is left out.
//
// Delivery: an async event runs at least once and, where the platform can tell, once. Its record
// in sluice_results is written before it is acknowledged, and a redelivery whose record says it
// succeeded (or was dead-lettered in the same redrive count) is settled without a run. The window
// left is a worker that dies between the function's effects and the record's write. The first
// delivery of an event whose id the gateway minted for it (HeaderFresh) reads no record: none
// can exist. A queued invocation has no record at all: its waiting event, on its EventSubject, is
// read instead (FindQueued, ReadStatus).
//
// Synchronous calls are first offered on DirectSubject, which nothing stores (direct.go).
//
// Meter records (SLUICE_METERS) are the bill: a worker stores an attempt's record, with a
// JetStream acknowledgement and MeterMsgID as its Nats-Msg-Id, before it acknowledges the
// invocation event. An acknowledged invocation therefore always has its record; an event whose
// worker died first is delivered again and metered then, and a delivery that repeats an attempt
// is stored once within the stream's duplicate window (two minutes). A meter record is also its
// attempt's START, END and REPORT lines: MeterLines renders them (START at the record's start,
// END and REPORT at its end; none when no instance took the attempt, Meter.Ran), and no line of
// them is published. Log lines (SLUICE_LOGS) travel in batches, one record (LogBatch) holding
// many lines of one function in the order printed; DecodeLogBatch also reads the single-line
// records of before. Readers of a function's logs merge its batches with its meter records'
// lines by time. Log lines are best effort: a function printing faster than they can be shipped
// loses lines, counted in a "sluice: dropped N lines" line of its logs.
//
// Every service and adapter depends on this package; it imports none of them.
package events
