package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// FindQueued returns the status of the invocation id while its event waits in SLUICE_INVOKE
// (invoke) under its EventSubject: queued, with its function, version and the time it was
// stored. Nothing is written for a queued invocation; its event is its record. An error wraps
// jetstream.ErrMsgNotFound when no event of that id waits (it never came, went by the base
// subject, or finished and was removed).
func FindQueued(ctx context.Context, invoke jetstream.Stream, id string) (Result, error) {
	m, err := invoke.GetLastMsgForSubject(ctx, queuedSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		m, err = invoke.GetLastMsgForSubject(ctx, queuedSubject(id)+".*") // an ordered event
	}
	if err != nil {
		return Result{}, fmt.Errorf("queued invocation %s: %w", id, err)
	}
	if EventID(m.Header) != id { // another id with the same token: none, short of a SHA-256 collision
		return Result{}, fmt.Errorf("queued invocation %s: %w", id, jetstream.ErrMsgNotFound)
	}
	v, _ := strconv.Atoi(m.Header.Get(headerCE + ExtVersion))
	return Result{ID: id, Function: SubjectFunction(m.Subject), Version: v, Status: StatusQueued, Enqueued: m.Time.UTC(),
		Redriven: EventRedrive(m.Header)}, nil
}

// ReadStatus returns what is known of the async invocation id: its record in sluice_results
// (results), else its waiting event in SLUICE_INVOKE (invoke) as queued. The record is read
// again when no event waits, for an event that finished between the two reads (a worker writes
// the record before it acknowledges the event). A failed record whose invocation a redrive sent
// back reads as queued while the redriven event waits: the record is the last attempt's until
// the new one writes its own. An error wraps jetstream.ErrKeyNotFound when there is neither.
func ReadStatus(ctx context.Context, results jetstream.KeyValue, invoke jetstream.Stream, id string) (Result, error) {
	r, err := ReadResult(ctx, results, id)
	if err == nil && r.Status == StatusFailed {
		if q, qerr := FindQueued(ctx, invoke, id); qerr == nil && q.Redriven > r.Redriven {
			return q, nil
		}
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return r, err
	}
	q, qerr := FindQueued(ctx, invoke, id)
	if qerr == nil {
		return q, nil
	}
	if !errors.Is(qerr, jetstream.ErrMsgNotFound) {
		return Result{}, qerr
	}
	return ReadResult(ctx, results, id)
}

// DecodeResult reads a record of sluice_results made by EncodeResult.
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
