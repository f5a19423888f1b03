package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// puller asks one consumer for events over a subscription of its own, kept while the consumer
// is pulled. jetstream's Next and Fetch subscribe a new inbox for every request and remove it
// after, and every subscription and its removal travel to each server of a cluster: there they
// cost about a tenth of the servers' CPU per event (docs/performance.md). Request n is answered
// on inbox.n, so a status (no events, the request's time out) names its request by its
// subject; a delivery carries the event's own subject, and is taken whichever request it
// answers.
type puller struct {
	nc      *nats.Conn
	subject string // the consumer's next-message request subject
	inbox   string
	sub     *nats.Subscription
	msgs    chan *nats.Msg
	n       uint64 // requests sent
}

// pullBuffer holds the deliveries of the largest request and the statuses that end requests.
const pullBuffer = 2*maxBatch + 16

// statusMargin is how long past a request's expiry the puller waits for the server's status
// that ends it before giving it up.
const statusMargin = 2 * time.Second

func newPuller(nc *nats.Conn, stream, consumer string) (*puller, error) {
	p := &puller{nc: nc, subject: "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer,
		inbox: nc.NewInbox(), msgs: make(chan *nats.Msg, pullBuffer)}
	var err error
	if p.sub, err = nc.ChanSubscribe(p.inbox+".*", p.msgs); err != nil {
		return nil, fmt.Errorf("pull subscription: %w", err)
	}
	return p, nil
}

// close removes the subscription; events delivered to it later go back to the consumer after
// its ack wait, as any unacknowledged delivery does.
func (p *puller) close() { _ = p.sub.Unsubscribe() }

// pullRequest is the body of a next-message request.
type pullRequest struct {
	Batch   int   `json:"batch"`
	Expires int64 `json:"expires,omitempty"` // nanoseconds
	NoWait  bool  `json:"no_wait,omitempty"`
}

// fetch returns up to batch events: with wait 0 those the consumer holds now (none is no
// error), else waiting up to wait for the first (jetstream.ErrNoMessages or nats.ErrTimeout
// when none came). Deliveries left from an earlier request that ended early are taken first.
// A deleted consumer is jetstream.ErrConsumerDeleted.
func (p *puller) fetch(ctx context.Context, batch int, wait time.Duration) ([]jetstream.Msg, error) {
	var out []jetstream.Msg
	for len(out) < batch { // what is here already: deliveries of requests given up, stale statuses
		select {
		case m := <-p.msgs:
			if !isStatus(m) {
				out = append(out, delivery{m})
			}
			continue
		default:
		}
		break
	}
	if len(out) == batch {
		return out, nil
	}
	p.n++
	reply := p.inbox + "." + strconv.FormatUint(p.n, 10)
	req := pullRequest{Batch: batch - len(out), NoWait: wait == 0}
	if wait > 0 {
		req.Expires = wait.Nanoseconds()
	}
	body, _ := json.Marshal(req) // a struct of numbers always encodes
	if err := p.nc.PublishRequest(p.subject, reply, body); err != nil {
		return out, fmt.Errorf("pull request: %w", err)
	}
	giveUp := time.NewTimer(wait + statusMargin)
	defer giveUp.Stop()
	for len(out) < batch {
		select {
		case m := <-p.msgs:
			if !isStatus(m) {
				out = append(out, delivery{m})
				continue
			}
			if m.Subject != reply || m.Header.Get("Status") == "100" {
				continue // the end of a request given up before, or a heartbeat
			}
			if err := statusErr(m); err != nil || len(out) > 0 || wait == 0 {
				return out, err
			}
			return out, nats.ErrTimeout
		case <-giveUp.C:
			return out, nats.ErrTimeout
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	return out, nil
}

// isStatus reports whether m is a status of the server's (an empty message with a Status
// header) rather than a delivery.
func isStatus(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") != ""
}

// statusErr is what a status that ends a request means: nil for the ordinary ends (no
// events, the request's time out), jetstream.ErrConsumerDeleted, or the server's description
// of another refusal.
func statusErr(m *nats.Msg) error {
	code, desc := m.Header.Get("Status"), m.Header.Get("Description")
	switch {
	case code == "404", code == "408":
		return nil
	case code == "409" && strings.Contains(strings.ToLower(desc), "consumer deleted"):
		return jetstream.ErrConsumerDeleted
	case code == "409" && strings.Contains(strings.ToLower(desc), "leadership change"):
		return nil // a new leader takes the next request
	case code == "503":
		return nats.ErrNoResponders
	}
	return fmt.Errorf("pull request refused: %s %s", code, desc)
}

// delivery is an event delivered to the puller's subscription, acknowledged through it.
type delivery struct{ m *nats.Msg }

var _ jetstream.Msg = delivery{}

func (d delivery) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := d.m.Metadata()
	if err != nil {
		return nil, err
	}
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered, NumPending: md.NumPending, Timestamp: md.Timestamp,
		Stream: md.Stream, Consumer: md.Consumer, Domain: md.Domain,
	}, nil
}

func (d delivery) Data() []byte                           { return d.m.Data }
func (d delivery) Headers() nats.Header                   { return d.m.Header }
func (d delivery) Subject() string                        { return d.m.Subject }
func (d delivery) Reply() string                          { return d.m.Reply }
func (d delivery) Ack() error                             { return d.m.Ack() }
func (d delivery) DoubleAck(ctx context.Context) error    { return d.m.AckSync(nats.Context(ctx)) }
func (d delivery) Nak() error                             { return d.m.Nak() }
func (d delivery) NakWithDelay(delay time.Duration) error { return d.m.NakWithDelay(delay) }
func (d delivery) InProgress() error                      { return d.m.InProgress() }
func (d delivery) Term() error                            { return d.m.Term() }

// TermWithReason terminates the delivery with reason in the server's advisory.
func (d delivery) TermWithReason(reason string) error {
	return d.m.Respond([]byte("+TERM " + reason))
}
