package storage_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/adapters/storage"
	"sluice.dev/events"
	"sluice.dev/events/testkit"
)

// storeProxy stands between the adapter and MinIO on loopback. It counts listings, and can
// cut the listen streams and hold new ones unanswered, as a broken network or a buffering
// proxy in front of a store does.
type storeProxy struct {
	endpoint string
	listings atomic.Int64

	mu      sync.Mutex
	mute    bool
	streams map[*http.Request]context.CancelFunc
}

func newStoreProxy(t testing.TB, minioEndpoint string) *storeProxy {
	t.Helper()
	p := &storeProxy{streams: map[*http.Request]context.CancelFunc{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: minioEndpoint})
	rp.FlushInterval = -1
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.endpoint = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("list-type") == "2" {
			p.listings.Add(1)
		}
		if !q.Has("events") {
			rp.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		p.mu.Lock()
		mute := p.mute
		p.streams[r] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.streams, r)
			p.mu.Unlock()
		}()
		if mute {
			<-ctx.Done() // no answer, not even headers
			return
		}
		rp.ServeHTTP(w, r.WithContext(ctx))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

// cut ends every open listen stream and, with mute, holds new ones unanswered.
func (p *storeProxy) cut(mute bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mute = mute
	for _, cancel := range p.streams {
		cancel()
	}
}

func (p *storeProxy) unmute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mute = false
}

// viaProxy is the rig's config through p, listing only at start and when a stream comes up.
func (r *rig) viaProxy(p *storeProxy) storage.Config {
	c := r.config()
	c.S3 = s3conf.Config{Endpoint: p.endpoint, AccessKey: r.minio.AccessKey, SecretKey: r.minio.SecretKey}
	c.Poll, c.Reconcile = time.Hour, time.Hour
	c.Silence = 3 * time.Second
	return c
}

func (run *running) waitDetail(t *testing.T, want string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		if s := run.last(); s.Detail != want {
			return fmt.Errorf("detail %q, want %q", s.Detail, want)
		}
		return nil
	})
}

// settledListings is the proxy's count of listings once none has come for 300 ms.
func settledListings(t *testing.T, p *storeProxy) int64 {
	t.Helper()
	var n int64
	testkit.Eventually(t, 10*time.Second, func() error {
		n = p.listings.Load()
		time.Sleep(300 * time.Millisecond)
		if now := p.listings.Load(); now != n {
			return fmt.Errorf("listings still coming: %d, then %d", n, now)
		}
		return nil
	})
	return n
}

// Uploads and deletes arrive as they happen, with no listing after the stream came up: the
// adapter never lists more than at its start and once when its stream comes up.
func TestLiveUploadsAndDeletesWithoutListing(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "live")
	p := newStoreProxy(t, r.minio.Endpoint)
	run := r.runWith(r.spec("t1", events.StorageSpec{Bucket: "live"}), r.viaProxy(p))
	run.waitState(t, events.StateRunning)
	run.waitDetail(t, "live notifications; listing reconciles")
	before := settledListings(t, p) // the stream's coming up is followed by a listing

	r.minio.put(t, "live", "a.txt", "hello")
	if ev := r.waitEvents(1)[0]; ev.Type() != "com.amazonaws.s3.ObjectCreated:Put" || ev.Subject() != "a.txt" {
		t.Fatalf("event %s %s", ev.Type(), ev.Subject())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.minio.client.RemoveObject(ctx, "live", "a.txt", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	evs := r.waitEvents(2)
	if ev := evs[1]; ev.Type() != "com.amazonaws.s3.ObjectRemoved:Delete" || ev.Subject() != "a.txt" {
		t.Fatalf("event %s %s", ev.Type(), ev.Subject())
	}
	if n := p.listings.Load(); n != before || n > 2 {
		t.Fatalf("%d listings (%d when the stream came up), want at most 2 and none since", n, before)
	}
}

// A listen stream that breaks may have lost events: when a stream is up again, a listing
// finds what changed meanwhile, though the adapter otherwise lists only hourly here.
func TestAGapInTheStreamIsReconciled(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "gap")
	p := newStoreProxy(t, r.minio.Endpoint)
	run := r.runWith(r.spec("t1", events.StorageSpec{Bucket: "gap"}), r.viaProxy(p))
	run.waitDetail(t, "live notifications; listing reconciles")

	p.cut(true)
	run.waitDetail(t, "listing: the store's live notifications are not streaming")
	r.minio.put(t, "gap", "while-cut", "x")
	r.waitEvents(0)

	p.unmute()
	run.waitDetail(t, "live notifications; listing reconciles")
	if ev := r.waitEvents(1)[0]; ev.Subject() != "while-cut" {
		t.Fatalf("subject %q", ev.Subject())
	}
	r.minio.put(t, "gap", "after", "x")
	if ev := r.waitEvents(2)[1]; ev.Subject() != "after" {
		t.Fatalf("subject %q", ev.Subject())
	}
}

// A store that never streams its notifications (an old build, a buffering proxy) is listed,
// and the trigger's status says so.
func TestAStoreThatDoesNotStreamIsListed(t *testing.T) {
	r := newRig(t)
	r.minio.makeBucket(t, "mute")
	p := newStoreProxy(t, r.minio.Endpoint)
	p.cut(true)
	c := r.viaProxy(p)
	c.Poll, c.Silence = 50*time.Millisecond, time.Second
	run := r.runWith(r.spec("t1", events.StorageSpec{Bucket: "mute"}), c)
	run.waitDetail(t, "listing: the store's live notifications are not streaming")
	r.minio.put(t, "mute", "k", "x")
	if ev := r.waitEvents(1)[0]; ev.Subject() != "k" {
		t.Fatalf("subject %q", ev.Subject())
	}
	if s := run.last(); s.State != events.StateRunning || s.Detail != "listing: the store's live notifications are not streaming" {
		t.Fatalf("status %+v", s)
	}
}
