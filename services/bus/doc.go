// Package bus starts sluice's embedded NATS server and connects services to a bus.
//
// The embedded server listens on loopback only, requires a user and password generated on first
// start and kept (mode 0600) in the data directory together with the API token, and stores
// JetStream data under the same directory, so a restart keeps functions, triggers, pending events
// and logs. Connect opens a connection for a role and makes sure every stream, bucket and object
// store of the bus exists.
package bus
