// Package events is sluice's contract with itself: the names of every subject, stream, key-value
// bucket and object store on the bus (see names.go), their configurations (Ensure creates them all
// idempotently), the CloudEvent codec used on NATS (binary mode, "ce-" headers, Nats-Msg-Id = event
// id), and the records that travel between services: function versions, invocation results, log
// lines and meter records.
//
// BusOptions.Replicas sets the replicas of every stream, bucket and object store (3 on a
// cluster); 0 keeps what they have (1 for new ones). With more than one, the buckets and the object store are read from their stream's
// leader (direct gets off), so that a write acknowledged to one role is what every other role
// reads next; see replicas.go.
//
// Every service and adapter depends on this package; it imports none of them.
package events
