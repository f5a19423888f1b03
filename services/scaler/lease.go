package scaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeaseLost is returned by refresh when another holder has the lease, or it expired.
var ErrLeaseLost = errors.New("scaler: lease lost")

// lease is the one-holder lock of a key in a TTL bucket: taken with Create, held by Update on the
// revision it last wrote, given up by Delete on that revision. If the holder stops refreshing, the
// bucket's TTL removes the key and another can take it. Not safe for concurrent use.
//
// Each write runs to its answer even when the caller's context is cancelled meanwhile (bounded by
// writeTimeout): a write the server applied but whose answer was dropped would leave the holder
// not knowing the revision it holds, and the key in the bucket until its TTL ran out.
type lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	rev    uint64 // 0 when not held
}

// writeTimeout bounds one lease write once it has begun.
const writeTimeout = 2 * time.Second

func (l *lease) held() bool { return l.rev != 0 }

// settled is ctx without its cancellation, bounded by writeTimeout.
func settled(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}

// take tries to create the key; it reports whether this holder now has the lease.
func (l *lease) take(ctx context.Context) (bool, error) {
	ctx, cancel := settled(ctx)
	defer cancel()
	rev, err := l.kv.Create(ctx, l.key, []byte(l.holder))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", l.key, err)
	}
	l.rev = rev
	return true, nil
}

// refresh rewrites the key on the held revision, which restarts its TTL. A revision mismatch or a
// vanished key means the lease is gone: the holder must stop acting.
func (l *lease) refresh(ctx context.Context) error {
	ctx, cancel := settled(ctx)
	defer cancel()
	rev, err := l.kv.Update(ctx, l.key, []byte(l.holder), l.rev)
	if err != nil {
		l.rev = 0
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("%w: %w", ErrLeaseLost, err)
		}
		return fmt.Errorf("refresh lease %s: %w", l.key, err)
	}
	l.rev = rev
	return nil
}

// release deletes the key if it is still on the held revision.
func (l *lease) release(ctx context.Context) error {
	if !l.held() {
		return nil
	}
	rev := l.rev
	l.rev = 0
	ctx, cancel := settled(ctx)
	defer cancel()
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}
