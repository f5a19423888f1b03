package queue_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// A burst on a subject read by two adapter processes of one trigger (one queue group): each
// message invokes once; a publisher's repeated Nats-Msg-Id is absorbed; a huge one is dropped
// and reported; a broker that goes away and comes back is retried.
func TestNATSBurstDuplicatesHugeAndReconnect(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	spec := events.QueueSpec{URL: "nats://" + b.url() + "/jobs.*", MaxInFlight: 4}
	st1 := startAdapter(t, bus, "jobs", "worker", spec)
	st2 := startAdapter(t, bus, "jobs", "worker", spec)
	st1.waitState(t, 5*time.Second, events.StateRunning)
	st2.waitState(t, 5*time.Second, events.StateRunning)

	nc, err := nats.Connect("nats://" + b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 500
	for i := range n {
		m := nats.NewMsg("jobs.new")
		m.Data = fmt.Appendf(nil, `{"job":%d}`, i)
		if i%10 == 0 { // sent twice by the publisher, with one id
			m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("job-%d", i))
			m.Header.Set("Content-Type", "application/json")
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish("jobs.huge", make([]byte, events.MaxPayload+1)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	evs := waitStored(t, bus, "worker", n)
	for _, ev := range evs {
		if ev.ID() == "jobs-job-0" {
			if ev.DataContentType() != "application/json" || ev.Subject() != "jobs.new" || ev.Type() != events.TypeQueueMessage ||
				ev.Source() != "nats://"+b.url()+"/jobs.*" || string(ev.Data()) != `{"job":0}` {
				t.Fatalf("event %s", ev)
			}
		}
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(st1.last().LastError+st2.last().LastError, "limit") {
			return fmt.Errorf("huge message not reported")
		}
		return nil
	})

	nc.Close()
	b.stop()
	st1.waitState(t, 10*time.Second, events.StateRetrying)
	b.start()
	st1.waitState(t, 10*time.Second, events.StateRunning)
	st2.waitState(t, 10*time.Second, events.StateRunning)
	nc2, err := nats.Connect("nats://" + b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	for i := range 10 {
		if err := nc2.Publish("jobs.again", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitStored(t, bus, "worker", n+10)
}
