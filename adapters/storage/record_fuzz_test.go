package storage

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/notification"

	"sluice.dev/events"
)

// FuzzNotification turns records of MinIO's live stream into invocation events: a record is
// dropped only when its key does not decode; any other makes, in both payload forms, an event
// that the bus takes and the worker decodes, whose subject is the object key (URL-encoded when
// it holds a control character) and whose AWS record gives the key back.
func FuzzNotification(f *testing.F) {
	f.Fuzz(func(t *testing.T, record []byte) {
		var r notification.Event
		if json.Unmarshal(record, &r) != nil {
			return
		}
		o, err := fromNotification(r)
		if err != nil {
			if _, uerr := url.QueryUnescape(r.S3.Object.Key); uerr == nil {
				t.Fatalf("record refused: %v", err)
			}
			return
		}
		o.versionID = versionID(o.versionID)
		o.bucket = "uploads" // the adapter takes only its own bucket's records
		if o.id() != o.id() || !strings.HasPrefix(o.id(), "s3-") {
			t.Fatalf("id %q", o.id())
		}
		for _, single := range []bool{false, true} {
			ev, err := o.cloudEvent(single)
			if err != nil {
				t.Fatalf("event of %+v: %v", o, err)
			}
			m, err := events.NewMsg(events.InvokeSubject("fn"), ev)
			if err != nil {
				t.Fatalf("the event of %+v does not publish: %v", o, err)
			}
			back, err := events.ParseMsg(m)
			if err != nil {
				t.Fatalf("the worker refuses the event of %+v: %v", o, err)
			}
			// The SDK trims the subject and type: the record keeps the key exactly.
			if back.ID() != o.id() || back.Subject() != strings.TrimSpace(events.HeaderSafe(o.key)) || back.Type() != strings.TrimSpace(TypePrefix+o.name) {
				t.Fatalf("event %v of %+v", back, o)
			}
			var rec Record
			if !single {
				var n Notification
				if err := json.Unmarshal(back.Data(), &n); err != nil || len(n.Records) != 1 {
					t.Fatalf("notification %s: %v", back.Data(), err)
				}
				rec = n.Records[0]
			} else if err := json.Unmarshal(back.Data(), &rec); err != nil {
				t.Fatalf("record %s: %v", back.Data(), err)
			}
			if key, err := url.QueryUnescape(rec.S3.Object.Key); err != nil || key != o.key {
				t.Fatalf("record key %q reads as %q, want %q (%v)", rec.S3.Object.Key, key, o.key, err)
			}
		}
	})
}

// Found by FuzzNotification: an event time whose offset takes it out of the years 0000-9999 in
// UTC made an event the bus refuses.
func TestNotificationTimeOutsideRFC3339(t *testing.T) {
	var r notification.Event
	r.EventName, r.EventTime, r.S3.Object.Key = "s3:ObjectCreated:Put", "9999-12-31T23:59:59-01:00", "k"
	o, err := fromNotification(r)
	if err != nil {
		t.Fatal(err)
	}
	o.bucket = "uploads"
	ev, err := o.cloudEvent(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.NewMsg(events.InvokeSubject("fn"), ev); err != nil {
		t.Fatalf("event of a record stamped %s: %v", r.EventTime, err)
	}
}
