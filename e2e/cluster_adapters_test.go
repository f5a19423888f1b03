package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// Three adapter processes run every trigger at once (the node's own and two `sluice serve
// adapters`): each upload to a watched bucket and each cron tick still runs its function once,
// because both carry deterministic event ids that the invocation stream's duplicate window
// absorbs.
func TestSeveralAdaptersFireOnce(t *testing.T) {
	m := testkit.StartMinIO(t)
	s3 := []string{"--s3-endpoint", "http://" + m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey}
	s := newSite(t)
	n := s.start(t, append([]string{"--isolation", "off"}, s3...)...)
	var adapters []*proc
	for i := range 2 {
		name := fmt.Sprintf("adapters-%d", i+1)
		p := &proc{name: name, bin: s.bin, env: s.env(), ready: "sluice serving",
			args: append([]string{"serve", "adapters", "--nats", n.NATSURL, "--data", filepath.Join(t.TempDir(), name)}, s3...)}
		p.cleanup(t)
		p.start(t)
		adapters = append(adapters, p)
	}
	runs := startCounter(t)
	for _, f := range []struct{ name, kind string }{{"onupload", "storage"}, {"ontick", "cron"}} {
		deployInline(t, n, f.name, counterPy, "--env", "KIND="+f.kind, "--env", "COUNTER="+runs.url, "--max", "4")
	}
	m.Put(t, "inbox", "before.txt", []byte("there before the trigger"))
	n.ok(t, "trigger", "add", "onupload", "--bucket", "inbox", "--id", "inbox")
	n.ok(t, "trigger", "add", "ontick", "--cron", "@every 1s", "--id", "ticks")

	// Every adapter process runs both triggers.
	testkit.EventuallyEvery(t, triggerDeadline, 100*time.Millisecond, func() error {
		for _, p := range adapters {
			for _, id := range []string{"inbox", "ticks"} {
				if !outputHas(p.out, `msg="trigger started" trigger=`+id) {
					return fmt.Errorf("%s has not started trigger %s", p.name, id)
				}
			}
		}
		return nil
	})

	const uploads = 20
	for i := range uploads {
		m.Put(t, "inbox", fmt.Sprintf("file-%02d.txt", i), fmt.Appendf(nil, "content %d", i))
	}
	testkit.EventuallyEvery(t, triggerDeadline, 250*time.Millisecond, func() error {
		if got, _ := runs.distinct("storage"); got < uploads {
			return fmt.Errorf("%d of %d uploads ran the function", got, uploads)
		}
		if got, _ := runs.distinct("cron"); got < 8 {
			return fmt.Errorf("%d cron ticks so far", got)
		}
		return nil
	})
	if got, dup := runs.distinct("storage"); got != uploads || dup > 0 {
		t.Errorf("storage: %d objects ran the function (want %d: the one there before the trigger must not), %d of them more than once", got, uploads, dup)
	}
	if got, dup := runs.distinct("cron"); dup > 0 {
		t.Errorf("cron: %d of %d ticks ran more than once", dup, got)
	}
}
