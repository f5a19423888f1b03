// Package scaler turns each function's consumer lag into a desired number of instances and
// records it, with the reason, in the sluice_scale bucket under events.ScaleKey (docs/design.md §7):
// desired = clamp(max(ceil(lag / concurrency), active), min, max), where active is the instances
// the workers' heartbeats report as lately used: calls that never wait on the consumer (sync
// calls, or events a free instance takes at once) show no lag but are demand all the same. Up at
// once, down only once the function has had neither lag nor active instances for its idle timeout,
// to zero when min is 0. Each record also carries the instances the live workers report in their
// sluice_workers heartbeats.
//
// Several scalers may run; only the holder of the lease under events.ScalerLeaseKey in the
// sluice_claims TTL bucket acts. It takes the lease with Create, refreshes it with a revision
// checked Update every third of the bucket's TTL, and deletes it on that revision when it stops.
// A scaler that cannot take it, or loses it, stays passive and tries again on every tick; a dead
// holder's lease expires with the bucket's TTL, so another scaler acts within about one TTL.
//
// The decision record, the heartbeats and the lag are read and written through events
// (ScaleDecision, WorkerBeat, ConsumerLag), where the API and the metrics read them too.
package scaler
