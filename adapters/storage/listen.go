package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/notification"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxLine bounds one line of the listen stream; MinIO writes one notification (a few KB) a line.
const maxLine = 1 << 20

// errSilent ends a stream that sent nothing, not even its ping, for Config.Silence.
var errSilent = errors.New("listen stream silent: the store does not stream notifications")

// note is what the listener tells Run: the stream came up (its first line arrived), it went
// down (down holds why), or an object changed.
type note struct {
	up   bool
	down error
	obj  object
}

// listen follows the bucket's live notifications (MinIO's ListenBucketNotification, asked to
// ping every Config.Ping) until ctx ends, and opens the stream again with backoff when it
// breaks or goes silent. It reports every change of the stream's state to out, so Run knows
// when a gap may have lost events and when listing often is the only way.
//
// The stream is read here rather than through minio-go's ListenBucketNotification, which
// swallows the pings and reopens a broken stream without saying so: a gap sluice cannot see is
// a gap it cannot reconcile.
func (a *Adapter) listen(ctx context.Context, out chan<- note, log *slog.Logger) {
	backoff := a.cfg.MinBackoff
	for ctx.Err() == nil {
		up, err := a.stream(ctx, out)
		if ctx.Err() != nil {
			return
		}
		log.Debug("storage listen stream ended", "err", err, "streamed", up)
		if up {
			backoff = a.cfg.MinBackoff
			select {
			case out <- note{down: err}:
			case <-ctx.Done():
				return
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

// stream opens one listen stream and hands its notifications to out until it ends. up reports
// whether any line came, and so whether a note{up: true} was sent.
func (a *Adapter) stream(ctx context.Context, out chan<- note) (up bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(a.cfg.Silence, func() { cancel(errSilent) })
	defer watchdog.Stop()

	req, err := a.listenRequest(ctx)
	if err != nil {
		return false, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return false, cmpCause(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("listen on bucket %s: %s", a.s.Bucket, resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 0, 64<<10), maxLine)
	for lines.Scan() {
		watchdog.Reset(a.cfg.Silence)
		if !up {
			up = true
			select {
			case out <- note{up: true}:
			case <-ctx.Done():
				return up, cmpCause(ctx, ctx.Err())
			}
		}
		var n notification.Info
		if err := json.Unmarshal(lines.Bytes(), &n); err != nil {
			return up, fmt.Errorf("listen on bucket %s: bad line: %w", a.s.Bucket, err)
		}
		for _, r := range n.Records { // a ping has none
			o, ok := a.matches(r)
			if !ok {
				continue
			}
			select {
			case out <- note{obj: o}:
			case <-ctx.Done():
				return up, cmpCause(ctx, ctx.Err())
			}
		}
	}
	if err := lines.Err(); err != nil {
		return up, cmpCause(ctx, err)
	}
	return up, fmt.Errorf("listen on bucket %s: stream closed by the store", a.s.Bucket)
}

// cmpCause prefers the reason ctx was cancelled (silence) to the error it caused.
func cmpCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// listenRequest is the signed GET of MinIO's listen API for the trigger's bucket and filters.
func (a *Adapter) listenRequest(ctx context.Context) (*http.Request, error) {
	q := url.Values{"ping": {strconv.Itoa(max(1, int(a.cfg.Ping/time.Second)))}}
	q.Set("prefix", a.s.Prefix)
	q.Set("suffix", a.s.Suffix)
	if wants(a.s, EventPut) { // not ObjectCreated:*, which takes in tagging and retention changes
		q["events"] = append(q["events"], "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
			"s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload")
	}
	if wants(a.s, EventDelete) {
		q["events"] = append(q["events"], "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated")
	}
	u := *a.client.EndpointURL()
	u.Path = "/" + a.s.Bucket
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("listen on bucket %s: %w", a.s.Bucket, err)
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if a.conn.AccessKey == "" {
		return req, nil // anonymous
	}
	return signer.SignV4(*req, a.conn.AccessKey, a.conn.SecretKey, "", cmpRegion(a.conn.Region)), nil
}

func cmpRegion(r string) string {
	if r == "" {
		return "us-east-1"
	}
	return r
}

// matches converts a notification record to an object when it is one the trigger wants.
func (a *Adapter) matches(r notification.Event) (object, bool) {
	o, err := fromNotification(r)
	if err != nil {
		a.cfg.Logger.Debug("storage listen: bad record", "trigger", a.spec.ID, "err", err)
		return object{}, false
	}
	o.versionID = versionID(o.versionID)
	if o.bucket != a.s.Bucket || !strings.HasPrefix(o.key, a.s.Prefix) || !strings.HasSuffix(o.key, a.s.Suffix) {
		return object{}, false
	}
	if o.removed() && !wants(a.s, EventDelete) || !o.removed() && !wants(a.s, EventPut) {
		return object{}, false
	}
	return o, true
}
