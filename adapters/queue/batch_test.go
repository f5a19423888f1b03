package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// batched reads the records of stored batch events, checking each is a batch of at most size.
func batched(t *testing.T, evs []event.Event, size int) []queue.Record {
	t.Helper()
	var out []queue.Record
	for _, ev := range evs {
		var d struct{ Records []queue.Record }
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatalf("batch data %s: %v", ev.Data(), err)
		}
		if ev.Type() != queue.TypeBatch || len(d.Records) == 0 || len(d.Records) > size ||
			ev.Extensions()[events.ExtBatch] != events.BatchReport || !strings.Contains(ev.ID(), "-batch-") {
			t.Fatalf("batch event %s with %d records", ev, len(d.Records))
		}
		out = append(out, d.Records...)
	}
	return out
}

// bodies are the records' bodies, sorted.
func bodies(rs []queue.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Body)
	}
	slices.Sort(out)
	return out
}

func want(n int, format string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(format, i))
	}
	slices.Sort(out)
	return out
}

var reporting = &events.Batch{Size: 10, Window: events.Duration(200 * time.Millisecond), ReportItemFailures: true}

// 95 messages in a stream become batches of at most 10 records, every message in exactly one
// record, each named by the id it would have alone and shaped as an SQS record.
func TestJetStreamBatches(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	_, js := sourceStream(t, "nats://"+b.url())
	const n = 95
	for i := range n {
		m := nats.NewMsg("orders.eu")
		m.Data = fmt.Appendf(nil, `{"order":%d}`, i)
		m.Header.Set("Tenant", "acme")
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	startAdapter(t, bus, "orders", "orders", events.QueueSpec{URL: "jetstream://" + b.url() + "/ORDERS", Batching: reporting})
	recs := waitRecords(t, bus, "orders", n)
	if evs := stored(t, bus, "orders"); len(evs) > n/2 {
		t.Fatalf("%d events for %d messages: not batched", len(evs), n)
	}
	if got := bodies(recs); !slices.Equal(got, want(n, `{"order":%d}`)) {
		t.Fatalf("bodies %v", got)
	}
	r := recs[0]
	if !strings.HasPrefix(r.MessageID, "orders-ORDERS-") || r.EventSource != "sluice:queue" ||
		r.EventSourceARN != "jetstream://"+b.url()+"/ORDERS" || r.Attributes["Subject"] != "orders.eu" ||
		r.Attributes["SentTimestamp"] == "" || r.MessageAttributes["Tenant"].StringValue != "acme" {
		t.Fatalf("record %+v", r)
	}
}

// waitRecords waits for batch events holding n records in all, and checks no more come.
func waitRecords(t *testing.T, bus *bustest.Bus, fn string, n int) []queue.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := batched(t, stored(t, bus, fn), reporting.Size)
		if len(recs) == n {
			time.Sleep(500 * time.Millisecond) // a sleep, not a poll: nothing may come twice
			if recs = batched(t, stored(t, bus, fn), reporting.Size); len(recs) != n {
				t.Fatalf("%d records, want %d", len(recs), n)
			}
			return recs
		}
		if len(recs) > n || time.Now().After(deadline) {
			t.Fatalf("%d records, want %d", len(recs), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RabbitMQ messages batch the same way; a body that is not text travels in base64.
func TestAMQPBatches(t *testing.T) {
	url := rabbitURL(t)
	bus := bustest.Start(t)
	ch := declareQueue(t, url, "batched")
	const n = 42
	for i := range n {
		publishAMQP(t, ch, "batched", amqp.Publishing{MessageId: fmt.Sprintf("m%d", i), Body: fmt.Appendf(nil, "job %d", i)})
	}
	publishAMQP(t, ch, "batched", amqp.Publishing{MessageId: "bin", Body: []byte{0xff, 0xfe, 0}})
	startAdapter(t, bus, "rabbit-batched", "jobs", events.QueueSpec{URL: url + "/batched", Batching: reporting})
	recs := waitRecords(t, bus, "jobs", n+1)
	var text []queue.Record
	for _, r := range recs {
		if r.MessageID == "rabbit-batched-bin" {
			if r.BodyEncoding != "base64" || r.Body != "//4A" {
				t.Fatalf("binary record %+v", r)
			}
			continue
		}
		text = append(text, r)
	}
	if got := bodies(text); !slices.Equal(got, want(n, "job %d")) {
		t.Fatalf("bodies %v", got)
	}
}

// Core NATS messages published in a burst share batches too.
func TestNATSBatches(t *testing.T) {
	bus := bustest.Start(t)
	b := newBroker(t)
	b.start()
	st := startAdapter(t, bus, "ticks", "ticks", events.QueueSpec{URL: "nats://" + b.url() + "/ticks.>", Batching: reporting})
	st.waitState(t, 5*time.Second, events.StateRunning)
	nc, err := nats.Connect("nats://" + b.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 30
	for i := range n {
		if err := nc.Publish("ticks.a", fmt.Appendf(nil, "t%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := bodies(waitRecords(t, bus, "ticks", n)); !slices.Equal(got, want(n, "t%d")) {
		t.Fatalf("bodies %v", got)
	}
	if evs := stored(t, bus, "ticks"); len(evs) >= n/2 {
		t.Fatalf("%d events for %d messages: not batched", len(evs), n)
	}
}
