// Package storage is the object-storage trigger: uploads and deletes in an S3 bucket (MinIO,
// or any S3 store) become invocation CloudEvents of a function.
//
// # Ingestion: live notifications, with listings to reconcile
//
// Events arrive live through MinIO's listen API (ListenBucketNotification), creates and deletes
// as they happen. The adapter reads that stream itself and asks the store to ping it every
// Config.Ping, so it knows when the stream is up, when it broke, and when it never streams at
// all (a store build or a proxy that buffers the response): a stream silent for
// Config.Silence is broken, and is opened again with backoff.
//
// What no stream saw is found by listing the bucket (under the trigger's prefix): at start,
// each time a stream comes up (a gap may have lost events), every Config.Reconcile while it
// stays up (10 minutes), and when the ids remembered since the last listing reach
// Config.MaxRecent. So a listing's cost, which grows with the bucket, is no longer paid every
// second. Without a streaming store listing is the only way: then it runs every Config.Poll,
// but never more often than twenty times its own duration, so it takes at most a twentieth of
// the time however large the bucket. The trigger's status says which way its events come
// (TriggerStatus.Detail).
//
// A listing publishes every object modified after the trigger's watermark (less
// Config.Slack) that it has not published yet. The watermark and the ids published since are
// kept in the sluice_triggers bucket under StateKey(trigger id), saved every Config.Checkpoint
// when they changed and after every listing, so a restarted adapter (a node restart, a crash,
// another node taking over) starts where the last one stopped. A trigger's first run starts
// at the trigger's creation time: objects that were there before are not events.
//
// Both paths give an object the same event id (a hash of bucket, key, version id, ETag and
// whether it was created or removed), so an object seen by both, or by two adapter processes,
// is stored once: the id is the bus message id, the listing skips the ids it holds, and a live
// notification of an upload already published (its id held, its time within the invocation
// stream's duplicate window) is dropped before it is published, so the trigger's event count
// counts it once too.
//
// Why not MinIO's own NATS/JetStream notification target with a queue directory: it needs the
// store's admin credentials, a MinIO that can reach the bus, and a server restart to add a
// target, and it only exists on MinIO. The listen API needs only the trigger's own access
// key, and listing works with the plain S3 API of any store.
//
// Limits, stated plainly:
//   - Deletes come only from live notifications. A delete that happens while no stream is up
//     cannot be recovered by listing (the object is simply absent) and is lost.
//   - MinIO drops notifications for a listener that does not keep up; those creates are found
//     by the next reconciling listing, within Config.Reconcile.
//   - An object uploaded again with the same content (same ETag) and no versioning is the same
//     event while its id is remembered, and fires once.
//   - Delivery is at least once: if a process dies after publishing and before its next
//     checkpoint, and the next one starts after the bus's duplicate window (2 minutes), those
//     objects fire again.
//   - Events found by listing are named ObjectCreated:Put whatever the upload was (Put, Copy,
//     CompleteMultipartUpload): a listing cannot tell.
//   - MinIO source builds from 2025-10-24 on never flush the listen stream (their S3 handlers'
//     response writer hides http.Flusher); with them events arrive by listing. The released
//     binaries up to RELEASE.2025-10-15T17-29-55Z stream, as does the build the tests pin.
//
// # Events
//
// Per the CloudEvents AWS S3 adapter: type com.amazonaws.s3.<eventName> (e.g.
// com.amazonaws.s3.ObjectCreated:Put, com.amazonaws.s3.ObjectRemoved:Delete), source
// /sluice/storage/<bucket>, subject the object key, time the object's modification time (or
// the notification's time), data AWS's notification {"Records": [record]} with the one S3
// event record in AWS's form (eventSource aws:s3, eventName without the s3: prefix, the key
// URL-encoded as AWS does), so Lambda S3 handlers run unchanged. With the spec's SingleRecord
// the data is the record alone, as the CloudEvents S3 adapter gives it.
//
// # Connection and health
//
// A spec without an endpoint uses the node's S3 connection, which the process wiring the
// adapters hands to NewFactory (there are no package-level defaults). An unreachable store
// is retried with backoff (Config.MinBackoff doubling to Config.MaxBackoff) and reported as
// StateRetrying with the error; the adapter never returns for it and reports StateRunning
// once a listing succeeds again.
package storage
