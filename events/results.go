package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ResultSubject is the subject of an async invocation's record in sluice_results, for writing
// it with a plain JetStream publish (headers such as an expected sequence, or an asynchronous
// acknowledgement) instead of the key-value API.
func ResultSubject(id string) string { return "$KV." + BucketResults + "." + ResultKey(id) }

// NewQueuedResult makes the first record of an async invocation, status queued, for the gateway
// to publish beside the event. It is create only: a record the worker has written already is
// never overwritten by it.
func NewQueuedResult(id, fn string, version int, enqueued time.Time) (*nats.Msg, error) {
	b, err := json.Marshal(Result{ID: id, Function: fn, Version: version, Status: StatusQueued, Enqueued: enqueued.UTC()})
	if err != nil {
		return nil, fmt.Errorf("queued record of %s: %w", id, err)
	}
	m := nats.NewMsg(ResultSubject(id))
	m.Data = b
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	return m, nil
}

// DecodeResult reads a record of sluice_results made by EncodeResult or NewQueuedResult.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("result record: %w", err)
	}
	return r, nil
}

// ReadResult returns the record of the async invocation id (as it came, whatever its key) from
// the sluice_results bucket kv. An error wraps jetstream.ErrKeyNotFound when there is none, and
// when the key holds another id's record.
func ReadResult(ctx context.Context, kv jetstream.KeyValue, id string) (Result, error) {
	e, err := kv.Get(ctx, ResultKey(id))
	if err != nil {
		return Result{}, fmt.Errorf("invocation %s: %w", id, err)
	}
	r, err := DecodeResult(e.Value())
	if err != nil {
		return Result{}, fmt.Errorf("read invocation %s: %w", id, err)
	}
	if r.ID != id { // another id with the same key: none, short of a SHA-256 collision
		return Result{}, fmt.Errorf("invocation %s: %w", id, jetstream.ErrKeyNotFound)
	}
	return r, nil
}
