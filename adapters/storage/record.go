package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7/pkg/notification"

	"sluice.dev/adapters/batch"
	"sluice.dev/events"
)

// TypePrefix prefixes the S3 event name in a CloudEvent type, per the CloudEvents AWS S3 adapter.
const TypePrefix = "com.amazonaws.s3."

// Event names the adapter makes itself (from a listing).
const nameCreatedPut = "ObjectCreated:Put"

// Record is one S3 event record in AWS's form.
type Record struct {
	// MessageID is set in batches only: the id the object's event has alone, what a function
	// names in batchItemFailures (events.ItemID). AWS's records have no such field.
	MessageID         string            `json:"messageId,omitempty"`
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      Identity          `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                S3Entity          `json:"s3"`
}

// Identity names who caused an event.
type Identity struct {
	PrincipalID string `json:"principalId"`
}

// S3Entity is the bucket and object of a record.
type S3Entity struct {
	SchemaVersion   string   `json:"s3SchemaVersion"`
	ConfigurationID string   `json:"configurationId"`
	Bucket          Bucket   `json:"bucket"`
	Object          S3Object `json:"object"`
}

// Bucket of a record.
type Bucket struct {
	Name          string   `json:"name"`
	OwnerIdentity Identity `json:"ownerIdentity"`
	ARN           string   `json:"arn"`
}

// S3Object of a record; Key is URL-encoded, as in AWS's notifications.
type S3Object struct {
	Key       string `json:"key"`
	Size      int64  `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// Notification is AWS's notification payload, what a Lambda S3 handler receives.
type Notification struct {
	Records []Record `json:"Records"`
}

// object is one object event, whichever path found it.
type object struct {
	name      string // S3 event name without the s3: prefix, e.g. ObjectCreated:Put
	bucket    string
	key       string // decoded
	size      int64
	etag      string // without quotes
	versionID string
	sequencer string
	time      time.Time
	principal string
	region    string
}

// removed reports whether the event is a delete.
func (o object) removed() bool { return strings.HasPrefix(o.name, "ObjectRemoved:") }

// id is the event's deterministic id: the same object change gives the same id on every path
// and in every process. The event name's class (created or removed) is in it, not the name,
// because a listing cannot tell a Put from a Copy.
func (o object) id() string {
	class := "created"
	if o.removed() {
		class = "removed"
		if o.versionID == "" {
			// A plain delete has no version or ETag: tell deletes of one key apart by time.
			class += "@" + o.sequencer
		}
	}
	h := sha256.New()
	for _, p := range []string{o.bucket, o.key, o.versionID, o.etag, class} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "s3-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// record renders o as AWS's S3 event record.
func (o object) record() Record {
	return Record{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         o.region,
		EventTime:         o.time.UTC().Format("2006-01-02T15:04:05.000Z"),
		EventName:         o.name,
		UserIdentity:      Identity{PrincipalID: o.principal},
		RequestParameters: map[string]string{},
		ResponseElements:  map[string]string{},
		S3: S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "sluice",
			Bucket:          Bucket{Name: o.bucket, ARN: "arn:aws:s3:::" + o.bucket},
			Object: S3Object{Key: url.QueryEscape(o.key), Size: o.size, ETag: o.etag,
				VersionID: o.versionID, Sequencer: o.sequencer},
		},
	}
}

// cloudEvent converts o per the CloudEvents AWS S3 adapter, with AWS's whole notification,
// {"Records": [record]}, as its data, or the one record when single is set.
func (o object) cloudEvent(single bool) (event.Event, error) {
	ev := event.New()
	ev.SetID(o.id())
	ev.SetType(TypePrefix + o.name)
	ev.SetSource("/sluice/storage/" + o.bucket)
	ev.SetSubject(events.HeaderSafe(o.key)) // S3 keys may hold line breaks
	ev.SetTime(o.time)
	var data any = Notification{Records: []Record{o.record()}}
	if single {
		data = o.record()
	}
	b, err := json.Marshal(data)
	if err != nil {
		return ev, fmt.Errorf("encode s3 record of %s: %w", o.key, err)
	}
	if err := ev.SetData(event.ApplicationJSON, b); err != nil {
		return ev, fmt.Errorf("s3 event of %s: %w", o.key, err)
	}
	return ev, nil
}

// fromNotification reads a record of MinIO's listen stream.
func fromNotification(r notification.Event) (object, error) {
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return object{}, fmt.Errorf("s3 record key %q: %w", r.S3.Object.Key, err)
	}
	t, err := time.Parse(time.RFC3339Nano, r.EventTime)
	if y := t.UTC().Year(); err != nil || y < 0 || y > 9999 { // none a CloudEvent can carry
		t = time.Now()
	}
	return object{
		name:      strings.TrimPrefix(r.EventName, "s3:"),
		bucket:    r.S3.Bucket.Name,
		key:       key,
		size:      r.S3.Object.Size,
		etag:      strings.Trim(r.S3.Object.ETag, `"`),
		versionID: r.S3.Object.VersionID,
		sequencer: r.S3.Object.Sequencer,
		time:      t,
		principal: r.UserIdentity.PrincipalID,
		region:    r.AwsRegion,
	}, nil
}

// listed makes the create event of an object found by listing.
func listed(bucket, key, etag, versionID string, size int64, mod time.Time) object {
	return object{
		name: nameCreatedPut, bucket: bucket, key: key, size: size,
		etag: strings.Trim(etag, `"`), versionID: versionID,
		sequencer: fmt.Sprintf("%X", mod.UnixNano()), time: mod,
	}
}

// TypeBatch is the type of a batch of object events.
const TypeBatch = "dev.sluice.storage.batch"

// errTooLarge marks a batch whose data passes the bus's payload limit.
var errTooLarge = errors.New("batch over the payload limit")

// event is the event of objs: the one object's as cloudEvent makes it, or, with a batch, one of
// them all, AWS's {"Records": [...]} with each record's messageId.
func (a *Adapter) event(objs []object) (event.Event, error) {
	b := a.s.Batching
	if b == nil {
		ev, err := objs[0].cloudEvent(a.s.SingleRecord)
		if err == nil && a.s.OrderKey != "" { // object-key, the one a bucket trigger has
			ev.SetExtension(events.ExtOrderKey, (events.OrderSource{From: events.OrderFromObjectKey}).Key(nil, "", "", objs[0].key))
		}
		return ev, err
	}
	ids := make([]string, len(objs))
	n := Notification{Records: make([]Record, len(objs))}
	for i, o := range objs {
		ids[i] = o.id()
		n.Records[i] = o.record()
		n.Records[i].MessageID = ids[i]
	}
	data, err := json.Marshal(n)
	if err != nil {
		return event.Event{}, fmt.Errorf("encode s3 records: %w", err)
	}
	if len(data) > events.MaxPayload-64<<10 {
		return event.Event{}, errTooLarge
	}
	ev := event.New()
	ev.SetID(batch.ID(a.spec.ID, ids))
	ev.SetType(TypeBatch)
	ev.SetSource("/sluice/storage/" + a.s.Bucket)
	ev.SetTime(objs[0].time)
	batch.Mark(&ev, *b)
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return ev, fmt.Errorf("s3 batch: %w", err)
	}
	return ev, nil
}
