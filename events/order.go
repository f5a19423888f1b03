package events

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// ExtOrderKey carries an event's order key. Events of one function with the same key run one at
// a time, in the order the bus stored them; events with other keys run beside them. A trigger
// sets it from each message (QueueSpec.OrderKey, StorageSpec.OrderKey).
//
// The key is also a token of the event's subject (OrderedSubject), so the oldest event of a key
// still waiting in SLUICE_INVOKE is one lookup away (KeySubject): a worker runs an ordered event
// only when it is that oldest one. As SLUICE_INVOKE keeps an event until its outcome is final
// (success, or dead-lettered), an event retrying after a failure holds its key, and only its key.
const ExtOrderKey = "sluiceorderkey"

// MaxOrderKey bounds an order key, in bytes.
const MaxOrderKey = 1024

// orderToken is an order key as a subject token: a hash, so any key makes a valid token.
func orderToken(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// OrderedSubject is the subject of an event of fn with id and order key: EventSubject and the
// key's token.
func OrderedSubject(fn, id, key string) string { return EventSubject(fn, id) + "." + orderToken(key) }

// KeySubject matches every event of fn with the order key.
func KeySubject(fn, key string) string { return subjectInvoke + fn + ".*." + orderToken(key) }

// SubjectOf is where an event of fn is stored: OrderedSubject when it has an order key, else
// EventSubject.
func SubjectOf(fn string, ev event.Event) string {
	if k := OrderKey(ev); k != "" {
		return OrderedSubject(fn, ev.ID(), k)
	}
	return EventSubject(fn, ev.ID())
}

// OrderKey is ev's order key, "" when it has none.
func OrderKey(ev event.Event) string {
	if k, ok := Extension(ev, ExtOrderKey); ok {
		return k
	}
	return ""
}

// subjectOfHeader is SubjectOf for an event read from its message header.
func subjectOfHeader(fn string, h nats.Header) string {
	if k := h.Get(headerCE + ExtOrderKey); k != "" {
		return OrderedSubject(fn, EventID(h), k)
	}
	return EventSubject(fn, EventID(h))
}

// Where a trigger finds a message's order key (QueueSpec.OrderKey, StorageSpec.OrderKey).
const (
	OrderFromHeader     = "header"      // header:NAME, a message header
	OrderFromRoutingKey = "routing-key" // an AMQP message's routing key
	OrderFromSubject    = "subject"     // subject:N, the N-th token (from 1) of a NATS subject
	OrderFromObjectKey  = "object-key"  // a bucket event's object key
)

// OrderSource is a parsed order-key setting.
type OrderSource struct {
	From  string // one of the OrderFrom constants
	Name  string // the header, for OrderFromHeader
	Token int    // the subject token, from 1, for OrderFromSubject
}

// ParseOrderKey reads an order-key setting: header:NAME, routing-key, subject:N or object-key.
func ParseOrderKey(s string) (OrderSource, error) {
	from, arg, hasArg := strings.Cut(s, ":")
	switch {
	case from == OrderFromHeader && hasArg && arg != "" && !strings.ContainsAny(arg, " \t\r\n:"):
		return OrderSource{From: from, Name: arg}, nil
	case from == OrderFromSubject && hasArg:
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 32 {
			return OrderSource{}, fmt.Errorf("%w: order key %q: subject:N takes a token number from 1 to 32", ErrInvalidTrigger, s)
		}
		return OrderSource{From: from, Token: n}, nil
	case (from == OrderFromRoutingKey || from == OrderFromObjectKey) && !hasArg:
		return OrderSource{From: from}, nil
	}
	return OrderSource{}, fmt.Errorf("%w: order key %q: use header:NAME, routing-key, subject:N or object-key", ErrInvalidTrigger, s)
}

// Key is the order key of a message from its parts; "" when the message has none (the
// header is missing, the subject has fewer tokens), and it then runs unordered. A key longer
// than MaxOrderKey, or holding a control character (which no bus header may carry), is
// replaced by its hash.
func (o OrderSource) Key(headers map[string][]string, subject, routingKey, objectKey string) string {
	var k string
	switch o.From {
	case OrderFromHeader:
		for name, vs := range headers {
			if strings.EqualFold(name, o.Name) && len(vs) > 0 {
				k = vs[0]
				break
			}
		}
	case OrderFromSubject:
		if tokens := strings.Split(subject, "."); o.Token <= len(tokens) {
			k = tokens[o.Token-1]
		}
	case OrderFromRoutingKey:
		k = routingKey
	case OrderFromObjectKey:
		k = objectKey
	}
	if len(k) > MaxOrderKey || strings.ContainsFunc(k, unicode.IsControl) {
		sum := sha256.Sum256([]byte(k))
		k = "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return k
}
