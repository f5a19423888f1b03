package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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
	return decodeJSON[Result](b, "result record")
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

// EncodeHandbacks is the record under HandbackKey: how many deliveries of the event were handed
// back without a run, in decimal.
func EncodeHandbacks(n int) []byte { return []byte(strconv.Itoa(n)) }

// DecodeHandbacks reads a record made by EncodeHandbacks.
func DecodeHandbacks(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("handback count: %w", err)
	}
	return n, nil
}

// ReadHandbacks returns how many deliveries of the event id, in its redrive-th run through the
// queue, were handed back without a run, from the sluice_results bucket kv. An error wraps
// jetstream.ErrKeyNotFound when none was.
func ReadHandbacks(ctx context.Context, kv jetstream.KeyValue, id string, redrive int) (int, error) {
	e, err := kv.Get(ctx, HandbackKey(id, redrive))
	if err != nil {
		return 0, fmt.Errorf("handbacks of %s: %w", id, err)
	}
	n, err := DecodeHandbacks(e.Value())
	if err != nil {
		return 0, fmt.Errorf("handbacks of %s: %w", id, err)
	}
	return n, nil
}

// CountHandback adds one to the deliveries of the event id, in its redrive-th run through the
// queue, handed back without a run, in the sluice_results bucket kv; a count that cannot be read
// starts again from none.
func CountHandback(ctx context.Context, kv jetstream.KeyValue, id string, redrive int) error {
	n, _ := ReadHandbacks(ctx, kv, id, redrive)
	if _, err := kv.Put(ctx, HandbackKey(id, redrive), EncodeHandbacks(n+1)); err != nil {
		return fmt.Errorf("count a handback of %s: %w", id, err)
	}
	return nil
}
