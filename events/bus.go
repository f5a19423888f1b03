package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxPayload is the largest synchronous invocation payload, as in AWS Lambda.
const MaxPayload = 6 << 20

// InvokeDuplicateWindow is how long SLUICE_INVOKE remembers an event id: an event published again
// with that id within it is acknowledged and dropped.
const InvokeDuplicateWindow = 2 * time.Minute

// BusOptions size the bus. The zero value is a single node with sensible retention. A
// retention limit left at zero keeps what an existing stream has (another process set it), and
// takes the default on a new stream.
type BusOptions struct {
	Replicas       int           // 1 on a single node, 3 on a cluster; 0: what the bus has (1 when new)
	Store          int64         // bytes of JetStream file store the bus may fill, shared out as in StoreLimits; 0: every stream and bucket keeps its size (none on new ones but logs' and meters')
	LogsMaxAge     time.Duration // default 7 days
	LogsMaxBytes   int64         // default 1 GiB, or its share of Store when smaller
	MetersMaxAge   time.Duration // default 90 days
	MetersMaxBytes int64         // default 10 GiB, or its share of Store when smaller
	DLQMaxAge      time.Duration // default 14 days
	ResultsTTL     time.Duration // default 24 hours
	WorkerTTL      time.Duration // default 10 seconds
	ClaimTTL       time.Duration // default 10 seconds: a claim or lease not refreshed by then is gone
}

func (o BusOptions) withDefaults() BusOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	def(&o.LogsMaxAge, 7*24*time.Hour)
	def(&o.MetersMaxAge, 90*24*time.Hour)
	def(&o.DLQMaxAge, 14*24*time.Hour)
	def(&o.ResultsTTL, 24*time.Hour)
	def(&o.WorkerTTL, 10*time.Second)
	def(&o.ClaimTTL, 10*time.Second)
	if o.LogsMaxBytes <= 0 {
		o.LogsMaxBytes = DefaultLogsMaxBytes
	}
	if o.MetersMaxBytes <= 0 {
		o.MetersMaxBytes = DefaultMetersMaxBytes
	}
	return o
}

// StreamConfigs are the streams of docs/design.md §3, sized by o.Store when it is set (a Store that
// CheckStore refuses sizes nothing).
func StreamConfigs(o BusOptions) []jetstream.StreamConfig {
	limits, _ := o.storeLimits()
	o = o.withDefaults()
	if limits != nil {
		o.LogsMaxBytes, o.MetersMaxBytes = limits[StreamLogs], limits[StreamMeters]
	}
	return []jetstream.StreamConfig{{
		Name:        StreamInvoke,
		Description: "invocation CloudEvents, a subject per event under its function's",
		Subjects:    []string{subjectInvoke + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  InvokeDuplicateWindow,
		MaxMsgSize:  MaxPayload + 64<<10,
		MaxBytes:    limits[StreamInvoke],
		Discard:     jetstream.DiscardNew, // a full queue refuses new invocations; it never drops one
		Replicas:    o.Replicas,
	}, {
		Name:        StreamDLQ,
		Description: "events that exhausted their retries, with the last error",
		Subjects:    []string{subjectDLQ + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      o.DLQMaxAge,
		MaxMsgSize:  MaxPayload + 64<<10,
		MaxBytes:    limits[StreamDLQ],
		Discard:     jetstream.DiscardNew, // a full DLQ leaves the event in SLUICE_INVOKE, to be dead-lettered later
		Replicas:    o.Replicas,
	}, {
		Name:        StreamLogs,
		Description: "the lines functions print, many to a record",
		Subjects:    []string{subjectLogs + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      o.LogsMaxAge,
		MaxBytes:    o.LogsMaxBytes,
		Discard:     jetstream.DiscardOld,
		Replicas:    o.Replicas,
	}, {
		Name:        StreamMeters,
		Description: "one meter record per attempt, also its START, END and REPORT",
		Subjects:    []string{subjectMeters + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      o.MetersMaxAge,
		MaxBytes:    o.MetersMaxBytes,
		Discard:     jetstream.DiscardOld,
		Replicas:    o.Replicas,
	}}
}

// ScaleHistory is how many of a function's scale decisions sluice_scale keeps (the most a
// bucket allows): the scaler writes one only when something changed, so they draw lag and
// instances over time.
const ScaleHistory = 64

// KeyValueConfigs are the buckets of docs/design.md §3, the file ones sized by o.Store when it is set.
func KeyValueConfigs(o BusOptions) []jetstream.KeyValueConfig {
	limits, _ := o.storeLimits()
	o = o.withDefaults()
	return []jetstream.KeyValueConfig{
		{Bucket: BucketFunctions, Description: "function heads and immutable versions", History: 1, Storage: jetstream.FileStorage, MaxBytes: limits[BucketFunctions], Replicas: o.Replicas},
		{Bucket: BucketTriggers, Description: "trigger specs", History: 1, Storage: jetstream.FileStorage, MaxBytes: limits[BucketTriggers], Replicas: o.Replicas},
		{Bucket: BucketKeys, Description: "access keys", History: 1, Storage: jetstream.FileStorage, MaxBytes: limits[BucketKeys], Replicas: o.Replicas},
		{Bucket: BucketScale, Description: "desired instances per function, the last decisions kept for charts", History: ScaleHistory, Storage: jetstream.FileStorage, MaxBytes: limits[BucketScale], Replicas: o.Replicas},
		{Bucket: BucketWorkers, Description: "worker heartbeats", History: 1, TTL: o.WorkerTTL, Storage: jetstream.MemoryStorage, Replicas: o.Replicas},
		{Bucket: BucketClaims, Description: "instance-slot claims and the scaler lease", History: 1, TTL: o.ClaimTTL, Storage: jetstream.MemoryStorage, Replicas: o.Replicas},
		{Bucket: BucketResults, Description: "async invocation status and results", History: 1, TTL: o.ResultsTTL, Storage: jetstream.FileStorage, MaxValueSize: MaxRecord, MaxBytes: limits[BucketResults], Replicas: o.Replicas},
	}
}

// ObjectStoreConfigs are the object stores of docs/design.md §3, sized by o.Store when it is set.
func ObjectStoreConfigs(o BusOptions) []jetstream.ObjectStoreConfig {
	limits, _ := o.storeLimits()
	o = o.withDefaults()
	return []jetstream.ObjectStoreConfig{
		{Bucket: ObjectCode, Description: "code packages by sha256", Storage: jetstream.FileStorage, MaxBytes: limits[ObjectCode], Replicas: o.Replicas},
	}
}

// Ensure creates or updates every stream, bucket and object store of the bus. It is idempotent
// and safe to call from every service at start. When o.Store sizes the bus, a stream that grows
// may need the room that one further down the list gives up: whatever the store had no room for
// is tried once more at the end.
func Ensure(ctx context.Context, js jetstream.JetStream, o BusOptions) error {
	if err := o.CheckStore(); err != nil {
		return err
	}
	var later []func() error
	try := func(f func() error) error {
		err := f()
		if IsStoreFull(err) {
			later = append(later, f)
			return nil
		}
		return err
	}
	for _, c := range StreamConfigs(o) {
		if err := try(func() error { return ensureStream(ctx, js, c, o) }); err != nil {
			return err
		}
	}
	keepSize := o.Store <= 0
	for _, c := range KeyValueConfigs(o) {
		if err := try(func() error {
			if err := ensureKeyValue(ctx, js, c, o.Replicas <= 0, keepSize); err != nil {
				return fmt.Errorf("ensure bucket %s: %w", c.Bucket, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, c := range ObjectStoreConfigs(o) {
		if err := try(func() error {
			if err := ensureObjectStore(ctx, js, c, o.Replicas <= 0, keepSize); err != nil {
				return fmt.Errorf("ensure object store %s: %w", c.Bucket, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, f := range later {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, c jetstream.StreamConfig, o BusOptions) error {
	if s, err := js.Stream(ctx, c.Name); err == nil {
		keepLimits(&c, s.CachedInfo().Config, o)
		if o.Replicas <= 0 {
			c.Replicas = s.CachedInfo().Config.Replicas
		}
	}
	if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
		return fmt.Errorf("ensure stream %s: %w", c.Name, err)
	}
	return nil
}

// keepLimits keeps an existing stream's retention limits that o leaves unset: its ages, and
// without a Store its sizes.
func keepLimits(c *jetstream.StreamConfig, old jetstream.StreamConfig, o BusOptions) {
	keep := func(set bool, age *time.Duration, oldAge time.Duration) {
		if !set {
			*age = oldAge
		}
	}
	sized := o.Store > 0
	switch c.Name {
	case StreamLogs:
		keep(o.LogsMaxAge > 0, &c.MaxAge, old.MaxAge)
		if o.LogsMaxBytes <= 0 && !sized {
			c.MaxBytes = old.MaxBytes
		}
	case StreamMeters:
		keep(o.MetersMaxAge > 0, &c.MaxAge, old.MaxAge)
		if o.MetersMaxBytes <= 0 && !sized {
			c.MaxBytes = old.MaxBytes
		}
	case StreamDLQ:
		keep(o.DLQMaxAge > 0, &c.MaxAge, old.MaxAge)
		if !sized {
			c.MaxBytes = old.MaxBytes
		}
	case StreamInvoke:
		if !sized {
			c.MaxBytes = old.MaxBytes
		}
	}
}

// AckWait is how long a worker may hold an invocation without acking it or signalling progress;
// workers send InProgress every third of it while an invocation runs (however long its
// timeout), so a dead worker's events are redelivered within about AckWait.
const AckWait = 6 * time.Second

// ConsumerConfig is the durable pull consumer that every worker shares for one function. Retries
// are counted by the worker (from the delivery count, less the deliveries handed back without a
// run that HandbackKey counts), so the server never drops an event itself.
func ConsumerConfig(fn string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        ConsumerName(fn),
		Description:    "invocations of " + fn,
		FilterSubjects: InvokeFilters(fn),
		AckPolicy:      jetstream.AckExplicitPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckWait:        AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  10000,
	}
}
