package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

// Events per second from each source into the bus (go test -run '^$' -bench . ./queue), each
// beside the source's own consume rate with a bare client that acks what it reads.
const benchMsgs = 5000

func benchStored(b *testing.B, bus *bustest.Bus, want int) {
	ctx := context.Background()
	s, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		b.Fatal(err)
	}
	for {
		info, err := s.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if int(info.State.Msgs) >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func report(b *testing.B, start time.Time, n int) {
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkJetStream(b *testing.B) {
	for _, bare := range []bool{false, true} {
		b.Run(map[bool]string{false: "sluice", true: "bare-consumer"}[bare], func(b *testing.B) {
			bus := bustest.Start(b)
			ext := bustest.RunServer(b)
			nc, _ := nats.Connect(ext.ClientURL())
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx := context.Background()
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}})
			if err != nil {
				b.Fatal(err)
			}
			total, started := 0, false
			for b.Loop() {
				for i := range benchMsgs {
					js.PublishAsync(fmt.Sprintf("b.%d", i%8), []byte(`{"n":1}`)) //nolint:errcheck // awaited below
				}
				<-js.PublishAsyncComplete()
				total += benchMsgs
				start := time.Now()
				if bare {
					c, _ := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bare", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 16})
					it, _ := c.Messages(jetstream.PullMaxMessages(64))
					for range benchMsgs {
						m, err := it.Next()
						if err != nil {
							b.Fatal(err)
						}
						m.Ack() //nolint:errcheck // a bench
					}
					it.Stop()
				} else {
					if !started {
						startAdapter(b, bus, "bench", "fn", events.QueueSpec{URL: "jetstream://" + ext.Addr().String() + "/B", Batch: 64, MaxInFlight: 16})
						started = true
					}
					benchStored(b, bus, total)
				}
				report(b, start, benchMsgs)
			}
		})
	}
}

func BenchmarkAMQP(b *testing.B) {
	url := rabbitURL(b)
	for _, bare := range []bool{false, true} {
		b.Run(map[bool]string{false: "sluice", true: "bare-consumer"}[bare], func(b *testing.B) {
			bus := bustest.Start(b)
			conn, err := amqp.Dial(url + "/")
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ch, _ := conn.Channel()
			q := fmt.Sprintf("bench-%v-%d", bare, time.Now().UnixNano())
			if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
				b.Fatal(err)
			}
			total, started := 0, false
			for b.Loop() {
				for i := range benchMsgs {
					ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{MessageId: fmt.Sprintf("%d-%d", total, i), Body: []byte(`{"n":1}`)}) //nolint:errcheck // a bench
				}
				total += benchMsgs
				start := time.Now()
				if bare {
					ch.Qos(16, 0, false) //nolint:errcheck // a bench
					d, err := ch.Consume(q, "", false, false, false, false, nil)
					if err != nil {
						b.Fatal(err)
					}
					for range benchMsgs {
						m := <-d
						m.Ack(false) //nolint:errcheck // a bench
					}
				} else {
					if !started {
						startAdapter(b, bus, "bench", "fn", events.QueueSpec{URL: url + "/" + q, MaxInFlight: 16})
						started = true
					}
					benchStored(b, bus, total)
				}
				report(b, start, benchMsgs)
			}
		})
	}
}
