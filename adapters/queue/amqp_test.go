package queue_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"sluice.dev/adapters/queue"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// A burst into a RabbitMQ queue read by two adapter processes: each message invokes once, a
// message sent again with its message-id is absorbed, a huge one is dropped and reported.
func TestAMQPBurstDuplicatesHuge(t *testing.T) {
	url := rabbitURL(t)
	bus := bustest.Start(t)
	ch := declareQueue(t, url, "jobs")
	const n = 300
	for i := range n {
		p := amqp.Publishing{MessageId: fmt.Sprintf("m%d", i), ContentType: "application/json",
			Body: fmt.Appendf(nil, `{"job":%d}`, i), Headers: amqp.Table{"tenant": "acme"}, DeliveryMode: amqp.Persistent}
		publishAMQP(t, ch, "jobs", p)
		if i%10 == 0 {
			publishAMQP(t, ch, "jobs", p) // the same message sent twice
		}
	}
	publishAMQP(t, ch, "jobs", amqp.Publishing{MessageId: "huge", Body: make([]byte, events.MaxPayload+1)})
	// A message-id with a line break would write a header of the bus's message: it is hashed.
	publishAMQP(t, ch, "jobs", amqp.Publishing{MessageId: "evil\r\nSluice-Reply: _INBOX.x", Body: []byte(`{"job":-1}`)})
	spec := events.QueueSpec{URL: url + "/jobs", MaxInFlight: 8}
	st1 := startAdapter(t, bus, "rabbit-jobs", "jobs", spec)
	st2 := startAdapter(t, bus, "rabbit-jobs", "jobs", spec)
	evs := waitStored(t, bus, "jobs", n+1)
	for _, ev := range evs {
		if string(ev.Data()) == `{"job":-1}` && !strings.HasPrefix(ev.ID(), "rabbit-jobs-h") {
			t.Fatalf("event of a message-id with a line break: %q", ev.ID())
		}
		if ev.ID() == "rabbit-jobs-m7" {
			if ev.DataContentType() != "application/json" || ev.Subject() != "jobs" || ev.Type() != events.TypeQueueMessage ||
				strings.Contains(ev.Source(), "guest") || string(ev.Data()) != `{"job":7}` ||
				ev.Extensions()[queue.ExtHeaders] != `{"tenant":["acme"]}` {
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
	q, err := ch.QueueDeclarePassive("jobs", true, false, false, false, nil)
	if err != nil || q.Messages != 0 {
		t.Fatalf("queue not drained: %+v %v", q, err)
	}
}

// A broker that is unreachable at start, then goes away and comes back (a proxy in front of
// RabbitMQ is cut and restored): retried, reported, nothing lost.
func TestAMQPBrokerDownThenUp(t *testing.T) {
	url := rabbitURL(t)
	bus := bustest.Start(t)
	ch := declareQueue(t, url, "flaky")
	p := newProxy(t, strings.TrimPrefix(url, "amqp://guest:guest@"))
	st := startAdapter(t, bus, "flaky", "fn", events.QueueSpec{URL: "amqp://guest:guest@" + p.addr + "/flaky"})
	st.waitState(t, 5*time.Second, events.StateRetrying)
	p.up()
	st.waitState(t, 10*time.Second, events.StateRunning)
	for i := range 20 {
		publishAMQP(t, ch, "flaky", amqp.Publishing{MessageId: fmt.Sprintf("a%d", i), Body: []byte("x")})
	}
	waitStored(t, bus, "fn", 20)
	p.down()
	st.waitState(t, 10*time.Second, events.StateRetrying)
	for i := range 20 { // published while the adapter cannot reach the broker
		publishAMQP(t, ch, "flaky", amqp.Publishing{MessageId: fmt.Sprintf("b%d", i), Body: []byte("y")})
	}
	p.up()
	st.waitState(t, 15*time.Second, events.StateRunning)
	waitStored(t, bus, "fn", 40)
}

// proxy forwards a fixed loopback port to a target while up; down closes the listener and cuts
// every connection, as a broker going away.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), target: target}
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }() //nolint:errcheck // ends when cut
			go func() { io.Copy(c, u); c.Close() }() //nolint:errcheck // ends when cut
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
