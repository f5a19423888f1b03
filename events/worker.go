package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WorkerBeat is a worker's heartbeat in the sluice_workers bucket, under its id; the bucket's TTL
// removes a worker that stopped beating, so its share of every function passes to the others.
type WorkerBeat struct {
	ID             string         `json:"id"`
	Host           string         `json:"host"`
	Started        time.Time      `json:"started"`
	Updated        time.Time      `json:"updated"`
	Runtimes       []string       `json:"runtimes"`         // runtimes this worker can run
	MemoryBudgetMB int            `json:"memoryBudgetMB"`   // memory it may give instances in all
	MemoryUsedMB   int            `json:"memoryUsedMB"`     // memory its instances are set to now
	Instances      map[string]int `json:"instances"`        // running instances by function
	Busy           map[string]int `json:"busy"`             // of which handling an invocation now
	Active         map[string]int `json:"active,omitempty"` // of which ran an invocation lately (busy ones too)
	Draining       bool           `json:"draining,omitempty"`
}

// ClaimKey is the sluice_claims key by which a worker holds one of a function's instance slots
// (0 ≤ slot < max); a worker starts an instance only while it holds a slot for it, so all
// workers together never run more than max.
func ClaimKey(fn string, slot int) string { return "claim." + fn + "." + itoa(slot) }

// ScaleKey is the sluice_scale key of the scaler's decision for a function.
func ScaleKey(fn string) string { return "desired." + fn }

// ScalerLeaseKey is the sluice_claims key of the lease held by the one scaler that acts.
const ScalerLeaseKey = "lease.scaler"

func itoa(n int) string { return strconv.Itoa(n) }

// PutWorkerBeat writes b to the sluice_workers bucket kv under b.ID.
func PutWorkerBeat(ctx context.Context, kv jetstream.KeyValue, b WorkerBeat) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", b.ID, err)
	}
	if _, err := kv.Put(ctx, b.ID, data); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", b.ID, err)
	}
	return nil
}

// DecodeWorkerBeat reads a record of sluice_workers.
func DecodeWorkerBeat(data []byte) (WorkerBeat, error) {
	return decodeJSON[WorkerBeat](data, "worker heartbeat")
}

// ReadWorkerBeat returns the heartbeat of worker id from the sluice_workers bucket kv, or an
// error wrapping jetstream.ErrKeyNotFound when it has none (yet, or any longer).
func ReadWorkerBeat(ctx context.Context, kv jetstream.KeyValue, id string) (WorkerBeat, error) {
	e, err := kv.Get(ctx, id)
	if err != nil {
		return WorkerBeat{}, fmt.Errorf("worker %s: %w", id, err)
	}
	b, err := DecodeWorkerBeat(e.Value())
	if err != nil {
		return WorkerBeat{}, fmt.Errorf("worker %s: %w", id, err)
	}
	return b, nil
}

// WorkerBeats returns the heartbeats of the live workers in the sluice_workers bucket kv; the
// bucket's TTL has already removed those that stopped beating. A record that does not decode
// is skipped; one without an id takes its key.
func WorkerBeats(ctx context.Context, kv jetstream.KeyValue) ([]WorkerBeat, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	defer func() { _ = keys.Stop() }()
	var out []WorkerBeat
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between the listing and the read
		}
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", k, err)
		}
		b, err := DecodeWorkerBeat(e.Value())
		if err != nil {
			continue
		}
		if b.ID == "" {
			b.ID = k
		}
		out = append(out, b)
	}
	return out, nil
}

// RunningInstances returns, per function, the instances, the busy instances and the lately
// active instances each live worker of the sluice_workers bucket kv reports, by worker id. The
// maps are never nil; on an error they hold what was read.
func RunningInstances(ctx context.Context, kv jetstream.KeyValue) (running, busy, active map[string]map[string]int, err error) {
	beats, err := WorkerBeats(ctx, kv)
	running, busy, active = map[string]map[string]int{}, map[string]map[string]int{}, map[string]map[string]int{}
	for _, b := range beats {
		addByWorker(active, b.ID, b.Active)
		addByWorker(running, b.ID, b.Instances)
		addByWorker(busy, b.ID, b.Busy)
	}
	return running, busy, active, err
}

// addByWorker adds one worker's counts by function to byFn, a count by worker per function.
func addByWorker(byFn map[string]map[string]int, worker string, counts map[string]int) {
	for fn, n := range counts {
		if byFn[fn] == nil {
			byFn[fn] = map[string]int{}
		}
		byFn[fn][worker] = n
	}
}
