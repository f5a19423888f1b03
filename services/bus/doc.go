// Package bus starts sluice's embedded NATS server and connects services to a bus.
//
// The embedded server listens on loopback only, requires a user and password generated on first
// start and kept (mode 0600) in the data directory together with the API token, and stores
// JetStream data under the same directory, so a restart keeps functions, triggers, pending events
// and logs.
//
// Connect opens a role's connection to any bus, the embedded server or an external NATS cluster
// (several comma-separated server URLs), and makes sure every stream, bucket and object store
// exists with the replica count asked for. Credentials come in the URL (user and password) or
// from Auth (token, credentials file, NKey seed file, TLS CA and client certificate), whose
// Options checks the files and that the settings fit together (ErrBadAuth).
//
// Connect's promises: while no server answers, or the cluster cannot yet place the streams, it
// retries with backoff (250 ms doubling to 5 s, with jitter) until its context ends, logging each
// attempt; it fails at once with an error wrapping ErrRejected when the bus refuses the
// credentials or the TLS handshake, or cannot keep more than one replica. Once connected the
// connection reconnects forever with the same backoff, logging the loss, every failed attempt
// and the return. Passwords and tokens never appear in its logs or errors.
package bus
