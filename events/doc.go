// Package events is sluice's contract with itself: the names of every subject, stream, key-value
// bucket and object store on the bus (see names.go), their configurations (Ensure creates them all
// idempotently), the CloudEvent codec used on NATS (binary mode, "ce-" headers, Nats-Msg-Id = event
// id), and the records that travel between services: function versions, invocation results, log
// lines and meter records.
//
// Every service and adapter depends on this package; it imports none of them.
package events
