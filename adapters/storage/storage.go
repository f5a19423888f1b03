package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
)

// Event kinds of a StorageSpec.
const (
	EventPut    = "put"
	EventDelete = "delete"
)

// ErrNoConnection is returned for a spec without an endpoint when the node has no S3
// connection either.
var ErrNoConnection = errors.New("no object storage connection")

// Config is what every storage adapter of a process shares.
type Config struct {
	S3     s3conf.Config      // the node's connection, used by specs that name no endpoint
	State  jetstream.KeyValue // the sluice_triggers bucket, where watermarks are kept; Run needs it
	Owner  string             // reported as TriggerStatus.Owner
	Logger *slog.Logger       // slog.Default() when nil

	Poll       time.Duration // shortest listing interval without live events; 1s when zero
	Reconcile  time.Duration // listing interval while live events stream; 10m when zero
	Ping       time.Duration // how often the store pings the listen stream (whole seconds); 1s when zero
	Silence    time.Duration // a listen stream silent this long is broken; 5s when zero
	Checkpoint time.Duration // how often the state is saved when it changed; 1s when zero
	MaxRecent  int           // ids remembered between listings; a full set brings a listing; 10000 when zero
	Slack      time.Duration // how far behind the watermark a listing looks again; 2m when zero
	MinBackoff time.Duration // first retry delay of an unreachable store; 500ms when zero
	MaxBackoff time.Duration // longest retry delay; 30s when zero
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, time.Second)
	def(&c.Reconcile, 10*time.Minute)
	def(&c.Ping, time.Second)
	def(&c.Silence, 5*time.Second)
	def(&c.Checkpoint, time.Second)
	if c.MaxRecent <= 0 {
		c.MaxRecent = 10000
	}
	def(&c.Slack, 2*time.Minute)
	def(&c.MinBackoff, 500*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	return c
}

// NewFactory returns the storage trigger Factory of a process: specs that name no endpoint
// use cfg.S3. Wire it by kind where the adapters are started:
//
//	"storage": storage.NewFactory(storage.Config{S3: node.S3, State: triggersKV})
func NewFactory(cfg Config) trigger.Factory {
	cfg = cfg.withDefaults()
	return func(spec events.Trigger) (trigger.Adapter, error) { return New(cfg, spec) }
}

// ErrNoState is returned by Run when Config.State is nil.
var ErrNoState = errors.New("storage trigger: no state bucket configured")

// New validates a storage trigger spec and returns its adapter.
func New(cfg Config, spec events.Trigger) (*Adapter, error) {
	cfg = cfg.withDefaults()
	if err := Validate(spec); err != nil {
		return nil, err
	}
	s := *spec.Storage
	conn := cfg.S3
	if s.Endpoint != "" {
		conn = s3conf.Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Secure: s.Secure}
	}
	client, err := newClient(conn)
	if err != nil {
		return nil, fmt.Errorf("%w: trigger %s: %w", events.ErrInvalidTrigger, spec.ID, err)
	}
	a := &Adapter{cfg: cfg, spec: spec, s: s, conn: conn, client: client, size: 1,
		http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	if b := s.Batching; b != nil {
		a.size, a.window = b.Size, b.WindowOrDefault()
	}
	return a, nil
}

// Validate checks a storage spec: a valid bucket name, known event kinds, and filters S3
// accepts.
func Validate(spec events.Trigger) error {
	if spec.Kind != events.TriggerStorage || spec.Storage == nil {
		return fmt.Errorf("%w: not a storage trigger", events.ErrInvalidTrigger)
	}
	if spec.ID == "" {
		return fmt.Errorf("%w: storage trigger without an id", events.ErrInvalidTrigger)
	}
	s := spec.Storage
	if err := s3utils.CheckValidBucketNameStrict(s.Bucket); err != nil {
		return fmt.Errorf("%w: bucket %q: %w", events.ErrInvalidTrigger, s.Bucket, err)
	}
	for _, e := range s.Events {
		if e != EventPut && e != EventDelete {
			return fmt.Errorf("%w: event %q: use %s or %s", events.ErrInvalidTrigger, e, EventPut, EventDelete)
		}
	}
	for name, f := range map[string]string{"prefix": s.Prefix, "suffix": s.Suffix} {
		if len(f) > 1024 || strings.ContainsAny(f, "\x00\r\n") {
			return fmt.Errorf("%w: %s %q: at most 1024 bytes, no NUL or line breaks", events.ErrInvalidTrigger, name, f)
		}
	}
	if s.OrderKey != "" {
		if o, err := events.ParseOrderKey(s.OrderKey); err != nil {
			return err
		} else if o.From != events.OrderFromObjectKey {
			return fmt.Errorf("%w: order key %s: a bucket trigger orders by object-key", events.ErrInvalidTrigger, s.OrderKey)
		}
		if s.Batching != nil {
			return fmt.Errorf("%w: a trigger has an order key or batches, not both", events.ErrInvalidTrigger)
		}
	}
	if b := s.Batching; b != nil {
		if err := b.Validate(); err != nil {
			return err
		}
		if s.SingleRecord {
			return fmt.Errorf("%w: a batch is {\"Records\": [...]}; it cannot go with a single record", events.ErrInvalidTrigger)
		}
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return fmt.Errorf("%w: give both the access key and the secret key, or neither", events.ErrInvalidTrigger)
	}
	if s.Endpoint == "" && s.AccessKey != "" {
		return fmt.Errorf("%w: credentials without an endpoint", events.ErrInvalidTrigger)
	}
	return nil
}

// wants reports whether the spec asks for events of kind put or delete.
func wants(s events.StorageSpec, kind string) bool {
	return len(s.Events) == 0 || slices.Contains(s.Events, kind)
}

func newClient(c s3conf.Config) (*minio.Client, error) {
	endpoint, secure, err := c.Host()
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", events.RedactURL(c.Endpoint), err)
	}
	if endpoint == "" {
		return nil, ErrNoConnection
	}
	creds := credentials.NewStaticV4(c.AccessKey, c.SecretKey, "") // anonymous when empty
	cl, err := minio.New(endpoint, &minio.Options{Creds: creds, Secure: secure, Region: c.Region, MaxRetries: 1})
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", events.RedactURL(c.Endpoint), err)
	}
	return cl, nil
}
