package meters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// gapWait is how long Read waits for the next record before it gives up on a stream that lost
// records it had counted (deleted by retention while being read).
const gapWait = 5 * time.Second

// Read calls each, in stream order, for every meter record of function fn ("" for every
// function) stored since the given time and up to the last one stored now. A record that does
// not decode is skipped.
func Read(ctx context.Context, js jetstream.JetStream, fn string, since time.Time, each func(events.Meter) error) error {
	stream, err := js.Stream(ctx, events.StreamMeters)
	if err != nil {
		return fmt.Errorf("meters: %w", err)
	}
	subject := events.MetersSubject(">")
	if fn != "" {
		subject = events.MetersSubject(fn)
	}
	last, lastTime, err := lastStored(ctx, stream, fn)
	if err != nil || last == 0 || lastTime.Before(since) {
		return err
	}
	it, stop, err := events.ReadStream(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("meters: %w", err)
	}
	defer stop()
	for {
		nctx, cancel := context.WithTimeout(ctx, gapWait)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return nil // the rest was removed by retention meanwhile
		case err != nil:
			return fmt.Errorf("meters: next: %w", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		if r, err := events.DecodeMeter(m.Data()); err == nil {
			if err := each(r); err != nil {
				return err
			}
		}
		if meta.Sequence.Stream >= last {
			return nil
		}
	}
}

// lastStored returns the sequence and time of the last record of fn, or of the stream for "".
func lastStored(ctx context.Context, stream jetstream.Stream, fn string) (uint64, time.Time, error) {
	if fn == "" {
		info, err := stream.Info(ctx)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("meters: %w", err)
		}
		if info.State.Msgs == 0 {
			return 0, time.Time{}, nil
		}
		return info.State.LastSeq, info.State.LastTime, nil
	}
	m, err := stream.GetLastMsgForSubject(ctx, events.MetersSubject(fn))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, time.Time{}, nil
	case err != nil:
		return 0, time.Time{}, fmt.Errorf("meters: last record of %s: %w", fn, err)
	}
	return m.Sequence, m.Time, nil
}
