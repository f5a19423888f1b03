package events

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// MaxPlainKey is the longest id KeyToken keeps as it is.
const MaxPlainKey = 128

// KeyToken is the form in which an outside id (an event id from a queue, an AMQP message-id, an
// object key, an HTTP caller's id) becomes a key-value key, a subject token or a Nats-Msg-Id: the
// id itself when it is 1 to MaxPlainKey letters, digits, '_' or '-', else "=" and the unpadded
// base64url of its SHA-256 (44 characters). Both forms are valid in every one of those places
// and never contain a dot, and no plain id starts with "=", so two ids never share a token. The
// original id travels in the event (ce-id) and in the records.
func KeyToken(id string) string {
	if plainKey(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "=" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func plainKey(id string) bool {
	if id == "" || len(id) > MaxPlainKey {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ResultKey is the sluice_results key of an async invocation's record.
func ResultKey(id string) string { return KeyToken(id) }

// HandbackKey is the sluice_results key counting the deliveries of an event that a worker handed
// back without running it (no instance slot for it there), for the event's redrive-th run
// through the queue (0 before any redrive). A worker's attempt number is the bus's delivery
// count less this count.
func HandbackKey(id string, redrive int) string {
	return "handback." + KeyToken(id) + "." + strconv.Itoa(redrive)
}
