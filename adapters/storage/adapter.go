package storage

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Adapter serves one storage trigger. Run it once; it owns a listener goroutine that ends
// before Run returns.
type Adapter struct {
	cfg    Config
	spec   events.Trigger
	s      events.StorageSpec
	client *minio.Client
}

var _ trigger.Adapter = (*Adapter)(nil)

// health is the adapter's reported status, owned by Run's goroutine.
type health struct {
	report trigger.Reporter
	st     events.TriggerStatus
}

func (h *health) set(state events.TriggerState, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if state == h.st.State && msg == h.st.LastError && err == nil {
		return
	}
	h.st.State, h.st.LastError, h.st.Updated = state, msg, time.Now()
	h.report(h.st)
}

func (h *health) published(n int) {
	if n == 0 {
		return
	}
	h.st.Events += uint64(n)
	h.st.LastEvent = time.Now()
	h.st.Updated = h.st.LastEvent
	h.report(h.st)
}

// Run publishes the bucket's events until ctx ends; see the package doc for how. It returns
// nil when ctx ended; an unreachable store or bus is retried, never returned.
func (a *Adapter) Run(ctx context.Context, pub trigger.Publisher, report trigger.Reporter) error {
	log := a.cfg.Logger.With("trigger", a.spec.ID, "function", a.spec.Function, "bucket", a.s.Bucket)
	h := &health{report: report, st: events.TriggerStatus{ID: a.spec.ID, Owner: a.cfg.Owner}}
	if a.cfg.State == nil {
		h.set(events.StateFailed, ErrNoState)
		return ErrNoState
	}
	h.set(events.StateStarting, nil)

	ctx, cancel := context.WithCancel(ctx)
	live := make(chan object, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.listen(ctx, live, log)
	}()
	defer wg.Wait()
	defer cancel()

	floor := a.spec.Created
	if floor.IsZero() {
		floor = time.Now()
	}
	backoff := a.cfg.MinBackoff
	wait := func(err error) bool {
		h.set(events.StateRetrying, err)
		log.Warn("storage trigger retrying", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, a.cfg.MaxBackoff)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}

	var st state
	for {
		var err error
		if st, err = loadState(ctx, a.cfg.State, a.spec.ID, floor); err == nil {
			break
		}
		if ctx.Err() != nil || !wait(err) {
			return nil
		}
	}

	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case o := <-live:
			for {
				err := a.publish(ctx, pub, &st, o, false)
				if err == nil {
					h.published(1)
					break
				}
				if ctx.Err() != nil || !wait(err) {
					return nil
				}
			}
		case <-poll.C:
			n, err := a.poll(ctx, pub, &st)
			h.published(n)
			if err != nil {
				if ctx.Err() != nil || !wait(err) {
					return nil
				}
				poll.Reset(0)
				continue
			}
			backoff = a.cfg.MinBackoff
			h.set(events.StateRunning, nil)
			poll.Reset(a.cfg.Poll)
		}
	}
}

// poll lists the bucket and publishes the objects modified after the watermark that were not
// published yet, oldest first. It returns how many it published.
func (a *Adapter) poll(ctx context.Context, pub trigger.Publisher, st *state) (int, error) {
	if !wants(a.s, EventPut) {
		// Deletes come only live; the listing is just the health check.
		ok, err := a.client.BucketExists(ctx, a.s.Bucket)
		if err == nil && !ok {
			err = fmt.Errorf("bucket %s does not exist", a.s.Bucket)
		}
		return 0, err
	}
	var due []object
	for o := range a.client.ListObjects(ctx, a.s.Bucket, minio.ListObjectsOptions{Prefix: a.s.Prefix, Recursive: true}) {
		if o.Err != nil {
			return 0, fmt.Errorf("list bucket %s: %w", a.s.Bucket, o.Err)
		}
		if !strings.HasSuffix(o.Key, a.s.Suffix) {
			continue
		}
		obj := listed(a.s.Bucket, o.Key, o.ETag, versionID(o.VersionID), o.Size, o.LastModified)
		if st.due(obj.id(), obj.time, a.cfg.Slack) {
			due = append(due, obj)
		}
	}
	slices.SortFunc(due, func(x, y object) int {
		return cmp.Or(x.time.Compare(y.time), strings.Compare(x.key, y.key))
	})
	for i, o := range due {
		if err := a.publish(ctx, pub, st, o, true); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

// publish stores o's event on the bus, then records it in the trigger's state.
func (a *Adapter) publish(ctx context.Context, pub trigger.Publisher, st *state, o object, fromListing bool) error {
	ev, err := o.cloudEvent(a.s.SingleRecord)
	if err != nil {
		return err
	}
	if err := pub.Publish(ctx, a.spec.Function, ev); err != nil {
		return err
	}
	if o.removed() {
		return nil // a listing never finds deletes: nothing to remember
	}
	st.seen(ev.ID(), o.time, fromListing)
	st.prune(a.cfg.Slack)
	return st.save(ctx, a.cfg.State, a.spec.ID)
}

// listen follows the bucket's live notifications and hands the matching ones to out, until
// ctx ends; a broken stream is opened again with backoff. Its errors are not health: the
// listing is what must work.
func (a *Adapter) listen(ctx context.Context, out chan<- object, log *slog.Logger) {
	var names []string
	if wants(a.s, EventPut) {
		names = append(names, "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
			"s3:ObjectCreated:CompleteMultipartUpload")
	}
	if wants(a.s, EventDelete) {
		names = append(names, "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated")
	}
	backoff := a.cfg.MinBackoff
	for ctx.Err() == nil {
		lctx, cancel := context.WithCancel(ctx)
		for n := range a.client.ListenBucketNotification(lctx, a.s.Bucket, a.s.Prefix, a.s.Suffix, names) {
			if n.Err != nil {
				log.Debug("storage listen", "err", n.Err)
				break
			}
			backoff = a.cfg.MinBackoff
			for _, r := range n.Records {
				o, err := fromNotification(r)
				if err != nil {
					log.Debug("storage listen: bad record", "err", err)
					continue
				}
				o.versionID = versionID(o.versionID)
				if o.bucket != a.s.Bucket || !strings.HasPrefix(o.key, a.s.Prefix) || !strings.HasSuffix(o.key, a.s.Suffix) {
					continue
				}
				if o.removed() && !wants(a.s, EventDelete) || !o.removed() && !wants(a.s, EventPut) {
					continue
				}
				select {
				case out <- o:
				case <-ctx.Done():
				}
			}
		}
		cancel()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

// versionID drops the "null" version of unversioned buckets.
func versionID(v string) string {
	if v == "null" {
		return ""
	}
	return v
}
