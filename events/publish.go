package events

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PublishPatience is how long a publish of an invocation waits for its stream to answer when it
// has no leader, as during an election after a NATS node of a cluster died (a few seconds).
const PublishPatience = 6 * time.Second

// PublishRetry returns the options with which gateways and adapters store invocation events: a
// publish that finds no stream to answer is sent again every quarter second for PublishPatience
// instead of failing at once. Sending the same event again is safe: its id is its Nats-Msg-Id,
// and the stream's duplicate window keeps one.
func PublishRetry() []jetstream.PublishOpt {
	const wait = 250 * time.Millisecond
	return []jetstream.PublishOpt{
		jetstream.WithRetryWait(wait),
		jetstream.WithRetryAttempts(int(PublishPatience / wait)),
	}
}
