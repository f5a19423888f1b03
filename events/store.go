package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Sizing the bus to its store. JetStream reserves each file stream's MaxBytes against the
// server's max store, so when BusOptions.Store is set every file stream, bucket and object store
// gets a share of it and the shares add up to no more than the whole: no stream can grow the
// store past what the node was given, and the disk never fills under JetStream (which would stop
// it for every stream at once).
//
//	SLUICE_INVOKE     30%  discard new: a full queue refuses new invocations, never drops one
//	sluice_code       20%  code packages
//	SLUICE_DLQ        10%  discard new: a dead letter is never dropped; the event waits in
//	                       SLUICE_INVOKE until there is room
//	sluice_results    10%  async invocation records (24 h)
//	SLUICE_LOGS       10%  discard old, at most 1 GiB unless set
//	SLUICE_METERS     10%  discard old, at most 10 GiB unless set
//	sluice_functions   5%  heads and versions
//	sluice_scale       3%
//	sluice_triggers    2%
//
// An explicit LogsMaxBytes or MetersMaxBytes is taken out of the store first (at most half of
// it together), and the others share what is left in the same proportions. The memory buckets
// (sluice_workers, sluice_claims) hold a few records per worker and are not on the disk.

// MinStore is the smallest store the bus can be sized to: room for the invocation queue to
// hold a few full-size events and for the other streams to work.
const MinStore = 32 << 20

// Retention caps of the logs and meters when the store sizes them and nothing else is set.
const (
	DefaultLogsMaxBytes   = 1 << 30
	DefaultMetersMaxBytes = 10 << 30
)

// storeShare is a stream's or bucket's share of the store, in thousandths.
func storeShare(name string) int64 {
	switch name {
	case StreamInvoke:
		return 300
	case ObjectCode:
		return 200
	case StreamDLQ, BucketResults, StreamLogs, StreamMeters:
		return 100
	case BucketFunctions:
		return 50
	case BucketScale:
		return 30
	case BucketTriggers:
		return 15
	case BucketKeys:
		return 5
	}
	return 0
}

// ErrStoreSize is a store too small for the bus, or retention settings that do not fit in it.
var ErrStoreSize = errors.New("store size")

// CheckStore checks the sizes of o: a Store of at least MinStore, and explicit logs and meters
// sizes that take at most half of it. A zero Store (the bus keeps its sizes) always passes.
func (o BusOptions) CheckStore() error {
	_, err := o.storeLimits()
	return err
}

// StoreLimits are the MaxBytes o gives each file stream, bucket and object store, by name; nil
// when o.Store is zero.
func (o BusOptions) StoreLimits() (map[string]int64, error) {
	return o.storeLimits()
}

func (o BusOptions) storeLimits() (map[string]int64, error) {
	if o.Store <= 0 {
		return nil, nil
	}
	if o.Store < MinStore {
		return nil, fmt.Errorf("%w: a store of %s is too small: the bus needs at least %s", ErrStoreSize, FormatSize(o.Store), FormatSize(MinStore))
	}
	explicit := max(o.LogsMaxBytes, 0) + max(o.MetersMaxBytes, 0)
	if explicit > o.Store/2 {
		return nil, fmt.Errorf("%w: logs (%s) and meters (%s) would take more than half of the %s store: give them less or the store more", ErrStoreSize, FormatSize(o.LogsMaxBytes), FormatSize(o.MetersMaxBytes), FormatSize(o.Store))
	}
	names := []string{StreamInvoke, StreamDLQ, StreamLogs, StreamMeters, BucketFunctions, BucketTriggers, BucketKeys, BucketScale, BucketResults, ObjectCode}
	rest, shares := o.Store-explicit, int64(0)
	for _, n := range names {
		if !(n == StreamLogs && o.LogsMaxBytes > 0) && !(n == StreamMeters && o.MetersMaxBytes > 0) {
			shares += storeShare(n)
		}
	}
	limits := map[string]int64{}
	for _, n := range names {
		switch {
		case n == StreamLogs && o.LogsMaxBytes > 0:
			limits[n] = o.LogsMaxBytes
		case n == StreamMeters && o.MetersMaxBytes > 0:
			limits[n] = o.MetersMaxBytes
		default:
			limits[n] = rest / shares * storeShare(n) // rounded down: the sum stays within the store
		}
	}
	limits[StreamLogs] = min(limits[StreamLogs], max(o.LogsMaxBytes, DefaultLogsMaxBytes))
	limits[StreamMeters] = min(limits[StreamMeters], max(o.MetersMaxBytes, DefaultMetersMaxBytes))
	return limits, nil
}

// JetStream error codes of a full store.
const (
	jsStreamStoreFailed       jetstream.ErrorCode = 10077 // a stream at its limits (with discard new)
	jsInsufficientResources   jetstream.ErrorCode = 10023 // the server's store is full
	jsAccountResourcesExceed  jetstream.ErrorCode = 10002 // the account's store is full
	jsStorageResourcesExceeds jetstream.ErrorCode = 10047 // no room to reserve a stream's MaxBytes
)

// IsStoreFull reports whether err is JetStream refusing a message or a stream for want of room:
// a stream at its MaxBytes with discard new, or the whole store at its limit.
func IsStoreFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jsInsufficientResources, jsAccountResourcesExceed, jsStorageResourcesExceeds:
		return true
	case jsStreamStoreFailed:
		d := strings.ToLower(apiErr.Description)
		return strings.Contains(d, "maximum bytes") || strings.Contains(d, "maximum messages")
	}
	return false
}

// FormatSize renders a byte count for people: 512 B, 1.5 KiB, 96.0 MiB, 2.0 GiB.
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// ParseSize reads a byte count: a number with an optional unit, B, K/KB/KiB, M/MB/MiB, G/GB/GiB
// or T/TB/TiB (all powers of 1024), e.g. 512MiB, 2G, 1.5GiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	}
	var mult int64
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "":
		mult = 1
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("size %q: use a number of bytes with B, KiB, MiB, GiB or TiB, e.g. 512MiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: use a number of bytes with B, KiB, MiB, GiB or TiB, e.g. 512MiB", s)
	}
	return int64(f * float64(mult)), nil
}
