package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A bucket trigger on the node's own object storage: an upload reaches the function as AWS's
// S3 record; uploads made while the node is stopped reach it once each after the restart.
func TestStorageTrigger(t *testing.T) {
	addr, mc := startMinIO(t)
	putObject(t, mc, "uploads", "old.txt", []byte("there before the trigger"))
	s3 := []string{"--s3-endpoint", "http://" + addr, "--s3-access-key", minioUser, "--s3-secret-key", minioSecret}
	s := newSite(t)
	n := s.start(t, s3...)
	deployInline(t, n, "recorder", recordPy)

	r := n.ok(t, "trigger", "add", "recorder", "--bucket", "uploads", "--suffix", ".txt", "--id", "uploads")
	wantContains(t, "trigger add", r.stdout, "trigger uploads added to recorder")
	running := func() error {
		if out := n.ok(t, "trigger", "list", "recorder").stdout; !strings.Contains(out, "running") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	}
	eventually(t, triggerDeadline, 500*time.Millisecond, running)

	putObject(t, mc, "uploads", "a.txt", []byte("a"))
	putObject(t, mc, "uploads", "skip.bin", []byte("b"))
	received := func(key string) int {
		logs := n.ok(t, "logs", "recorder", "--since", "10m").stdout
		return strings.Count(logs, `"key": "`+key+`"`)
	}
	eventually(t, triggerDeadline, 500*time.Millisecond, func() error {
		if c := received("a.txt"); c != 1 {
			return fmt.Errorf("a.txt reached the function %d times", c)
		}
		return nil
	})
	logs := n.ok(t, "logs", "recorder", "--since", "10m").stdout
	wantContains(t, "the S3 record", logs, `"eventName": "ObjectCreated:Put"`)
	if received("old.txt") != 0 || received("skip.bin") != 0 {
		t.Fatalf("an old or filtered object fired:\n%s", logs)
	}

	n.stop(t)
	for _, k := range []string{"x.txt", "y.txt", "z.txt"} {
		putObject(t, mc, "uploads", k, []byte(k))
	}
	n = s.start(t, s3...)
	eventually(t, triggerDeadline, 500*time.Millisecond, func() error {
		for _, k := range []string{"x.txt", "y.txt", "z.txt"} {
			if c := received(k); c != 1 {
				return fmt.Errorf("%s reached the function %d times", k, c)
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second) // a few listings more: nothing fires twice
	for _, k := range []string{"a.txt", "x.txt", "y.txt", "z.txt"} {
		if c := received(k); c != 1 {
			t.Fatalf("%s reached the function %d times", k, c)
		}
	}
}
