package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Adapter serves one storage trigger. Run it once; it owns a listener goroutine that ends
// before Run returns.
type Adapter struct {
	cfg    Config
	spec   events.Trigger
	s      events.StorageSpec
	conn   s3conf.Config
	size   int           // objects per event: the batch's size, or 1
	window time.Duration // how long a live object waits for a batch to fill
	client *minio.Client // listings
	http   *http.Client  // the listen stream
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

// Details of a storage trigger's status: how its events arrive.
const (
	detailLive    = "live notifications; listing reconciles"
	detailListing = "listing: the store's live notifications are not streaming"
)

func (h *health) detail(d string) {
	if h.st.Detail == d {
		return
	}
	h.st.Detail, h.st.Updated = d, time.Now()
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
	live := make(chan note, 256)
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
	save := func(ctx context.Context) error {
		if !st.dirty {
			return nil
		}
		return st.save(ctx, a.cfg.State, a.spec.ID)
	}
	defer func() { // what was published since the last checkpoint, once more on the way out
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer scancel()
		if err := save(sctx); err != nil {
			log.Warn("storage trigger: state not saved", "err", err)
		}
	}()

	streaming := false     // the listen stream is up: listings only reconcile
	var took time.Duration // how long the last listing took
	var lastList time.Time // when it ended
	next := func() time.Duration {
		if streaming {
			return a.cfg.Reconcile
		}
		// Without live events listing is the only way, but it never takes more than a
		// twentieth of the time, however large the bucket.
		return max(a.cfg.Poll, 20*took)
	}
	list := time.NewTimer(0)
	defer list.Stop()
	// Live objects are held until a batch is full or its window passed (at once without a batch).
	var held []object
	window := time.NewTimer(time.Hour)
	window.Stop()
	defer window.Stop()
	flush := func() bool {
		window.Stop()
		for {
			err := a.publish(ctx, pub, &st, held, false)
			if err == nil {
				h.published(len(held))
				held = held[:0]
				break
			}
			if ctx.Err() != nil || !wait(err) {
				return false
			}
		}
		if len(st.Recent) >= a.cfg.MaxRecent && time.Since(lastList) > max(a.cfg.Poll, 20*took) {
			list.Reset(0) // a listing moves the watermark, and the set shrinks to its slack
		}
		return true
	}
	defer func() { // before the state's last save: a batch still filling holds deletes no listing finds
		if len(held) == 0 {
			return
		}
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer scancel()
		if err := a.publish(sctx, pub, &st, held, false); err != nil {
			log.Warn("storage trigger: a held batch not published", "objects", len(held), "err", err)
		}
	}()
	checkpoint := time.NewTicker(a.cfg.Checkpoint)
	defer checkpoint.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-live:
			switch {
			case n.up:
				// Whatever changed while no stream was up is found by listing once more.
				streaming = true
				h.detail(detailLive)
				list.Reset(0)
			case n.down != nil:
				streaming = false
				h.detail(detailListing)
				list.Reset(next())
			default:
				if st.repeats(n.obj) { // published already: counted once, and stored once
					continue
				}
				held = append(held, n.obj)
				if len(held) == 1 && a.size > 1 {
					window.Reset(a.window)
				}
				if len(held) < a.size {
					continue
				}
				if !flush() {
					return nil
				}
			}
		case <-window.C:
			if !flush() {
				return nil
			}
		case <-checkpoint.C:
			if err := save(ctx); err != nil && ctx.Err() == nil {
				log.Warn("storage trigger: state not saved", "err", err)
			}
		case <-list.C:
			began := time.Now()
			n, err := a.poll(ctx, pub, &st)
			lastList = time.Now()
			took = lastList.Sub(began)
			h.published(n)
			if err == nil {
				err = save(ctx)
			}
			if err != nil {
				if ctx.Err() != nil || !wait(err) {
					return nil
				}
				list.Reset(0)
				continue
			}
			backoff = a.cfg.MinBackoff
			h.set(events.StateRunning, nil)
			if !streaming {
				h.detail(detailListing)
			}
			list.Reset(next())
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
	for i := 0; i < len(due); i += a.size {
		if err := a.publish(ctx, pub, st, due[i:min(i+a.size, len(due))], true); err != nil {
			return i, err
		}
	}
	st.prune(a.cfg.Slack, a.cfg.MaxRecent)
	return len(due), nil
}

// publish stores the events of objs on the bus, then notes them in the trigger's state, which
// is saved at the next checkpoint: one event each, or with a batch, one event of them all
// (split where it would pass the payload limit). A live event whose id is known is published
// when it is not a repeat of that upload (state.repeats, checked as it comes): the same content
// uploaded again is a new event.
func (a *Adapter) publish(ctx context.Context, pub trigger.Publisher, st *state, objs []object, fromListing bool) error {
	for len(objs) > 0 {
		n := len(objs)
		if a.s.Batching == nil {
			n = 1
		}
		ev, err := a.event(objs[:n])
		for errors.Is(err, errTooLarge) && n > 1 {
			n /= 2
			ev, err = a.event(objs[:n])
		}
		if err != nil {
			return err
		}
		if err := pub.Publish(ctx, a.spec.Function, ev); err != nil {
			return err
		}
		for _, o := range objs[:n] {
			if !o.removed() { // a listing never finds deletes: nothing to remember
				st.seen(o.id(), o.time, fromListing)
			}
		}
		objs = objs[n:]
	}
	return nil
}

// versionID drops the "null" version of unversioned buckets.
func versionID(v string) string {
	if v == "null" {
		return ""
	}
	return v
}
