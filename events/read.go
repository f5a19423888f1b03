package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReaderIdle is how long the server keeps a reader's consumer once nobody pulls from it (a
// reader that died without deleting it).
const ReaderIdle = 10 * time.Second

// ReadStream starts one read of stream s: an ordered consumer with cfg, gone after ReaderIdle
// unused, and its messages with opts. stop ends the read and deletes the consumer at once: the
// server allows a stream a thousand consumers, and readers that left theirs behind for minutes
// (the client's default) would let a client polling the logs, the meters or the dead letters
// use them all up, and every read after it fail.
func ReadStream(ctx context.Context, s jetstream.Stream, cfg jetstream.OrderedConsumerConfig, opts ...jetstream.PullMessagesOpt) (it jetstream.MessagesContext, stop func(), err error) {
	cfg.InactiveThreshold = ReaderIdle
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: %w", err)
	}
	if it, err = cons.Messages(opts...); err != nil {
		return nil, nil, fmt.Errorf("consume: %w", err)
	}
	return it, func() {
		it.Stop()
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = s.DeleteConsumer(dctx, info.Name) // else the server removes it after ReaderIdle
		}
	}, nil
}
