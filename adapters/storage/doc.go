// Package storage is the object-storage trigger: uploads and deletes in an S3 bucket (MinIO,
// or any S3 store) become invocation CloudEvents of a function.
//
// # Ingestion: listing with a watermark, live notifications as an accelerator
//
// The path that loses nothing while sluice is down is a catch-up by listing. The adapter lists
// the bucket (under the trigger's prefix) at start and then every Config.Poll, and publishes
// every object modified after its watermark that it has not published yet. The watermark and
// the ids published in the last Config.Slack are kept in the sluice_triggers bucket under
// StateKey(trigger id), written after every publish, so a restarted adapter (a node restart, a
// crash, another node taking over) starts where the last one stopped. A trigger's first run
// starts at the trigger's creation time: objects that were there before are not events.
//
// Beside it runs MinIO's ListenBucketNotification, which brings creates and deletes as they
// happen when the server streams them. Both paths give an object the same event id (a hash of
// bucket, key, version id, ETag and whether it was created or removed), so an object seen by
// both, or by two adapter processes, is stored once: the id is the bus message id, and the
// listing also skips ids of its recent set.
//
// Why not MinIO's own NATS/JetStream notification target with a queue directory: it needs the
// store's admin credentials, a MinIO that can reach the bus, and a server restart to add a
// target, and it only exists on MinIO. Listing works with the plain S3 API of any store with
// a trigger's own access key, needs nothing configured on the store, and is testable by
// stopping sluice; the live listener only shortens the delay.
//
// Limits, stated plainly:
//   - Deletes come only from live notifications. A delete that happens while no adapter
//     listens cannot be recovered by listing (the object is simply absent) and is lost.
//   - An object uploaded again with the same content (same ETag) and no versioning, within
//     Config.Slack of the first upload, is the same event and fires once.
//   - Delivery is at least once: if a process dies between the bus's acknowledgement and the
//     state write and the next one starts after the bus's duplicate window (2 minutes), that
//     object fires again.
//   - Events found by listing are named ObjectCreated:Put whatever the upload was (Put, Copy,
//     CompleteMultipartUpload): a listing cannot tell.
//   - The MinIO build the tests pin (see task/install.go) never flushes the listen stream (its
//     S3 handlers wrap the response writer in one that drops http.Flusher), so there events
//     arrive by polling, within Config.Poll.
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
