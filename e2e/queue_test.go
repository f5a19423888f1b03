package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events/bustest"
)

// A JetStream stream on a broker of its own, consumed by a queue trigger of the node: a burst of
// messages, some already waiting when the trigger is added, each reaches the function once.
func TestQueueTrigger(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "recorder", recordPy)
	ext := bustest.RunServer(t)
	addr := strings.TrimPrefix(ext.ClientURL(), "nats://")

	if r := n.sluice(t, "trigger", "add", "recorder", "--queue", "kafka://"+addr+"/orders"); r.code != 1 || !strings.Contains(r.stderr, "scheme") {
		t.Fatalf("bad queue url: %s", r)
	}

	_, js := natsClient(t, ext.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	const total = 40
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			m := nats.NewMsg("orders.new")
			m.Data = fmt.Appendf(nil, `{"order": %d}`, i)
			m.Header.Set("Content-Type", "application/json")
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, total/2) // waiting in the stream before the trigger exists

	r := n.ok(t, "trigger", "add", "recorder", "--queue", "jetstream://"+addr+"/ORDERS", "--id", "orders")
	wantContains(t, "trigger add", r.stdout, "trigger orders added to recorder")
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if out := n.ok(t, "trigger", "list", "recorder").stdout; !strings.Contains(out, "running") {
			return fmt.Errorf("trigger list:\n%s", out)
		}
		return nil
	})
	publish(total/2, total)

	count := func() (int, string) {
		logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
		return strings.Count(logs, `received {"order": `), logs
	}
	testkit.EventuallyEvery(t, triggerDeadline, 500*time.Millisecond, func() error {
		if c, logs := count(); c < total {
			return fmt.Errorf("%d of %d messages reached the function:\n%s", c, total, logs)
		}
		return nil
	})
	logs := n.ok(t, "logs", "recorder", "--since", "5m").stdout
	for i := range total {
		if c := strings.Count(logs, fmt.Sprintf(`received {"order": %d}`, i)); c != 1 {
			t.Fatalf("message %d reached the function %d times:\n%s", i, c, logs)
		}
	}
}
