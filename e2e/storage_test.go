package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// lambdaS3Py is an S3 handler as written for Lambda, unchanged: it walks event["Records"].
const lambdaS3Py = `import json
from urllib.parse import unquote_plus


def handler(event, context):
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        print(json.dumps({"bucket": record["s3"]["bucket"]["name"], "key": key, "eventName": record["eventName"]}))
`

// A bucket trigger on the node's own object storage: an upload reaches an unchanged Lambda S3
// handler as AWS's notification; uploads made while the node is stopped reach it once each
// after the restart.
func TestStorageTrigger(t *testing.T) {
	m := testkit.StartMinIO(t)
	m.Put(t, "uploads", "old.txt", []byte("there before the trigger"))
	s3 := []string{"--s3-endpoint", "http://" + m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey}
	s := newSite(t)
	n := s.start(t, s3...)
	deployInline(t, n, "recorder", lambdaS3Py)

	r := n.ok(t, "trigger", "add", "recorder", "--bucket", "uploads", "--suffix", ".txt", "--id", "uploads")
	wantContains(t, "trigger add", r.stdout, "trigger uploads added to recorder")
	running := func() error {
		if out := n.ok(t, "trigger", "list", "recorder").stdout; !strings.Contains(out, "running") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, running)

	m.Put(t, "uploads", "a.txt", []byte("a"))
	m.Put(t, "uploads", "skip.bin", []byte("b"))
	received := func(key string) int {
		logs := n.ok(t, "logs", "recorder", "--since", "10m").stdout
		return strings.Count(logs, `"key": "`+key+`"`)
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if c := received("a.txt"); c != 1 {
			return fmt.Errorf("a.txt reached the function %d times", c)
		}
		return nil
	})
	logs := n.ok(t, "logs", "recorder", "--since", "10m").stdout
	wantContains(t, "the S3 record", logs, `"eventName": "ObjectCreated:Put"`)
	wantContains(t, "the S3 record", logs, `"bucket": "uploads"`)
	if received("old.txt") != 0 || received("skip.bin") != 0 {
		t.Fatalf("an old or filtered object fired:\n%s", logs)
	}

	n.stop(t)
	for _, k := range []string{"x.txt", "y.txt", "z.txt"} {
		m.Put(t, "uploads", k, []byte(k))
	}
	n = s.start(t, s3...)
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		for _, k := range []string{"x.txt", "y.txt", "z.txt"} {
			if c := received(k); c != 1 {
				return fmt.Errorf("%s reached the function %d times", k, c)
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second) // a sleep, not a poll: a few listings more, and nothing may fire twice
	for _, k := range []string{"a.txt", "x.txt", "y.txt", "z.txt"} {
		if c := received(k); c != 1 {
			t.Fatalf("%s reached the function %d times", k, c)
		}
	}
}

// Uploads and deletes at volume into a bucket of thousands of objects reach an unchanged Lambda
// S3 handler live, in batches, each once; the trigger says its events come live.
func TestBucketEventsAtVolume(t *testing.T) {
	t.Parallel() // waits mostly; runs beside the other parallel tests
	m := testkit.StartMinIO(t)
	const old, fresh, gone = 2000, 300, 100
	var wg sync.WaitGroup
	put := func(prefix string, n int) {
		keys := make(chan int)
		for range 16 {
			wg.Go(func() {
				for i := range keys {
					m.Put(t, "big", fmt.Sprintf("%s/%05d.txt", prefix, i), []byte("x"))
				}
			})
		}
		for i := range n {
			keys <- i
		}
		close(keys)
		wg.Wait()
	}
	put("old", old)
	s3 := []string{"--s3-endpoint", "http://" + m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey}
	n := newSite(t).start(t, s3...)
	deployInline(t, n, "recorder", lambdaS3Py)
	n.ok(t, "trigger", "add", "recorder", "--bucket", "big", "--id", "big", "--batch-size", "100", "--batch-window", "500ms")
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if out := n.ok(t, "trigger", "list", "recorder", "-o", "json").stdout; !strings.Contains(out, `"detail": "live notifications`) {
			return fmt.Errorf("trigger not live:\n%s", out)
		}
		return nil
	})

	put("new", fresh)
	for i := range gone {
		m.Delete(t, "big", fmt.Sprintf("old/%05d.txt", i))
	}
	count := func(logs, name, key string) int {
		return strings.Count(logs, `"key": "`+key+`"`+`, "eventName": "`+name+`"`)
	}
	var logs string
	testkit.EventuallyEvery(t, triggerDeadline, time.Second, func() error {
		logs = n.ok(t, "logs", "recorder", "--since", "10m", "--grep", `"eventName"`).stdout
		if got := strings.Count(logs, `"eventName": "ObjectCreated:Put"`); got < fresh {
			return fmt.Errorf("%d of %d uploads", got, fresh)
		}
		if got := strings.Count(logs, `"eventName": "ObjectRemoved:Delete"`); got < gone {
			return fmt.Errorf("%d of %d deletes", got, gone)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // a sleep, not a poll: nothing may fire twice
	logs = n.ok(t, "logs", "recorder", "--since", "10m", "--grep", `"eventName"`).stdout
	for i := range fresh {
		if c := count(logs, "ObjectCreated:Put", fmt.Sprintf("new/%05d.txt", i)); c != 1 {
			t.Fatalf("upload %d reached the function %d times", i, c)
		}
	}
	for i := range gone {
		if c := count(logs, "ObjectRemoved:Delete", fmt.Sprintf("old/%05d.txt", i)); c != 1 {
			t.Fatalf("delete %d reached the function %d times", i, c)
		}
	}
	if c := strings.Count(logs, `"key": "old/`); c != gone {
		t.Fatalf("%d events of old objects, want only the %d deletes", c, gone)
	}
}
