// Package manager runs trigger adapters as the sluice_triggers bucket says: it watches the specs
// (keys spec.<id>), starts one adapter per spec with the Factory of its kind, restarts it when its
// spec changes, stops it when the spec is deleted, and writes each adapter's health to
// status.<id> with this process as the owner.
//
// The factories are a plain map wired where the process starts (services/node), one entry per
// kind:
//
//	factories := map[string]trigger.Factory{
//		events.TriggerCron:    cron.Factory(triggersKV), // a func(events.Trigger) (trigger.Adapter, error)
//		events.TriggerQueue:   queue.New,
//		events.TriggerStorage: storage.NewFactory(storage.Config{State: triggersKV, S3: …}),
//		events.TriggerHTTP:    route.Factory, // served by the gateway; this checks and reports
//	}
//
// The same map checks specs when the API adds them, so a Factory must be cheap and must not touch
// the network: it only parses and validates (wrapping events.ErrInvalidTrigger) and returns an
// adapter whose Run does the work.
//
// Contract with adapters:
//   - Run is called once per adapter; its ctx ends when the spec changes or is deleted or the
//     process stops, and Run must then return promptly.
//   - An adapter retries an unreachable source itself (reporting StateRetrying) and returns an
//     error only for a spec that can never work; the manager then reports StateFailed and leaves
//     the trigger alone until its spec changes.
//   - A panic in Run is recovered and reported as StateFailed with the panic's message; it never
//     stops the process or the other adapters.
//   - Reports are cheap to make: the manager writes the latest one to the bus, at once when the
//     state or error changes, otherwise at most a few times a second.
//   - Several adapter processes may run every trigger at once (sluice serve adapters ×N). Each
//     kind must be safe with that: cron publishes deterministic event ids that the bus dedupes.
//   - State an adapter keeps in the sluice_triggers bucket goes under "<word>.<id>" (cron uses
//     cron.<id>): deleting a trigger deletes every such key.
package manager
