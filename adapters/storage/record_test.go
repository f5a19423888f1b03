package storage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/notification"
)

// A live MinIO record and a listing of the same object give one event id, and the record
// comes out in AWS's form.
func TestLiveAndListedAgree(t *testing.T) {
	var n notification.Event
	raw := `{"eventVersion":"2.0","eventSource":"minio:s3","eventTime":"2026-01-02T03:04:05.678Z",
	"eventName":"s3:ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b-1"},
	"object":{"key":"a%2Fb+c.txt","size":3,"eTag":"abc","versionId":"null","sequencer":"18"}}}`
	if err := json.Unmarshal([]byte(raw), &n); err != nil {
		t.Fatal(err)
	}
	live, err := fromNotification(n)
	if err != nil {
		t.Fatal(err)
	}
	live.versionID = versionID(live.versionID)
	list := listed("b-1", "a/b c.txt", `"abc"`, "", 3, time.Now())
	if live.id() != list.id() {
		t.Fatalf("ids differ: %s %s", live.id(), list.id())
	}
	ev, err := live.cloudEvent(true) // the record alone
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != "com.amazonaws.s3.ObjectCreated:CompleteMultipartUpload" || ev.Subject() != "a/b c.txt" {
		t.Fatalf("%s %s", ev.Type(), ev.Subject())
	}
	var rec Record
	if err := json.Unmarshal(ev.Data(), &rec); err != nil || rec.EventSource != "aws:s3" || rec.S3.Object.Key != "a%2Fb+c.txt" {
		t.Fatalf("%s: %v", ev.Data(), err)
	}
	del := live
	del.name, del.sequencer = "ObjectRemoved:Delete", "19"
	if del.id() == live.id() {
		t.Fatal("a delete has the id of the create")
	}
}
