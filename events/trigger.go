package events

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Trigger kinds.
const (
	TriggerCron    = "cron"
	TriggerStorage = "storage"
	TriggerQueue   = "queue"
	TriggerHTTP    = "http"
	// TriggerCloudEvents subscribes a function to the CloudEvents sent to the node.
	TriggerCloudEvents = "cloudevents"
)

// Trigger is one trigger spec, stored in the sluice_triggers bucket under TriggerKey(ID). Exactly
// one of the kind-specific parts is set, the one Kind names.
type Trigger struct {
	ID       string       `json:"id"`
	Function string       `json:"function"`
	Kind     string       `json:"kind"`
	Cron     *CronSpec    `json:"cron,omitempty"`
	Storage  *StorageSpec `json:"storage,omitempty"`
	Queue    *QueueSpec   `json:"queue,omitempty"`
	HTTP     *HTTPSpec    `json:"http,omitempty"`
	// CloudEvents is a subscription's filters; its JSON name is the kind's.
	CloudEvents *CloudEventsSpec `json:"cloudevents,omitempty"`
	Created     time.Time        `json:"created"`
}

// CronSpec fires on a schedule: a 6-field expression with seconds, or a macro (@hourly,
// @every 10s), in a time zone (UTC when empty), with optional static event data.
type CronSpec struct {
	Expr    string `json:"expr"`
	TZ      string `json:"tz,omitempty"`
	Data    []byte `json:"data,omitempty"`    // JSON given to the function as the event data
	CatchUp bool   `json:"catchUp,omitempty"` // fire once for runs missed while no adapter ran
}

// StorageSpec fires on object-storage events of a bucket.
type StorageSpec struct {
	Bucket    string   `json:"bucket"`
	Events    []string `json:"events,omitempty"` // put, delete (both when empty)
	Prefix    string   `json:"prefix,omitempty"`
	Suffix    string   `json:"suffix,omitempty"`
	Endpoint  string   `json:"endpoint,omitempty"` // the node's S3 connection when empty
	AccessKey string   `json:"accessKey,omitempty"`
	SecretKey string   `json:"secretKey,omitempty"`
	Secure    bool     `json:"secure,omitempty"`
	// SingleRecord hands the function the one S3 event record, as the CloudEvents S3 adapter's
	// data, instead of AWS's notification {"Records": [record]} that Lambda handlers expect.
	SingleRecord bool   `json:"singleRecord,omitempty"`
	Batching     *Batch `json:"batching,omitempty"`  // object events per invocation; one when nil
	OrderKey     string `json:"orderKey,omitempty"`  // object-key: events of one object run one at a time, in order
	SecretSet    bool   `json:"secretSet,omitempty"` // shown specs only: a secret key is stored (see Redacted)
}

// QueueSpec fires on messages of a queue: nats://HOST:PORT/SUBJECT,
// jetstream://HOST:PORT/STREAM or amqp://USER:PASS@HOST:PORT/QUEUE.
type QueueSpec struct {
	URL         string `json:"url"`
	Batch       int    `json:"batch,omitempty"`       // messages fetched at once, where the source has it
	MaxInFlight int    `json:"maxInFlight,omitempty"` // unacknowledged messages at most
	Batching    *Batch `json:"batching,omitempty"`    // messages per invocation; one when nil
	// OrderKey names where each message's order key is (ParseOrderKey): messages with the same
	// key run one at a time, in the order they came (ExtOrderKey).
	OrderKey  string `json:"orderKey,omitempty"`
	SecretSet bool   `json:"secretSet,omitempty"` // shown specs only: the stored URL has a password or token (see Redacted)
}

// HTTPSpec routes an HTTP path and method to the function, beside /fn/{name}.
type HTTPSpec struct {
	Path   string   `json:"path"`             // e.g. /orders/{id}
	Method string   `json:"method,omitempty"` // any when empty
	Public bool     `json:"public,omitempty"` // callable without the token
	CORS   []string `json:"cors,omitempty"`   // allowed origins; none when empty
}

// CloudEventsSpec subscribes a function to the CloudEvents sent to the node (POST /v1/events,
// or the bus subject IngressSubject) whose type, source and subject pass every filter it sets,
// as Knative's broker triggers do: each attribute exactly, by prefix or by suffix. A spec
// with no filter takes every event.
type CloudEventsSpec struct {
	Type          string `json:"type,omitempty"`
	TypePrefix    string `json:"typePrefix,omitempty"`
	TypeSuffix    string `json:"typeSuffix,omitempty"`
	Source        string `json:"source,omitempty"`
	SourcePrefix  string `json:"sourcePrefix,omitempty"`
	SourceSuffix  string `json:"sourceSuffix,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectPrefix string `json:"subjectPrefix,omitempty"`
	SubjectSuffix string `json:"subjectSuffix,omitempty"`
}

// TriggerKey is the sluice_triggers key of a trigger spec.
func TriggerKey(id string) string { return "spec." + id }

// TriggerStatusKey is the sluice_triggers key of a trigger's health, written by its adapter.
func TriggerStatusKey(id string) string { return "status." + id }

// TriggerState is where an adapter is with its source.
type TriggerState string

// Adapter states.
const (
	StateStarting TriggerState = "starting"
	StateRunning  TriggerState = "running"
	StateRetrying TriggerState = "retrying" // the source is unreachable; retried with backoff
	StateFailed   TriggerState = "failed"   // the spec cannot work; fixed only by a new spec
)

// TriggerStatus is a trigger's health as its adapter reports it.
type TriggerStatus struct {
	ID        string       `json:"id"`
	State     TriggerState `json:"state"`
	LastError string       `json:"lastError,omitempty"`
	Detail    string       `json:"detail,omitempty"` // how the adapter gets its events, where it has a choice
	LastEvent time.Time    `json:"lastEvent,omitzero"`
	Events    uint64       `json:"events"` // published by this adapter process since it started
	Updated   time.Time    `json:"updated"`
	Owner     string       `json:"owner,omitempty"` // the adapter process reporting
}

// ErrInvalidTrigger is returned for a trigger spec that cannot work.
var ErrInvalidTrigger = errors.New("invalid trigger")

// Validate checks the shape of a trigger: a function, and exactly the part its kind needs.
// Kind-specific checks (a cron expression, a queue URL) are the adapters'.
func (t Trigger) Validate() error {
	if err := ValidateName(t.Function); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTrigger, err)
	}
	parts := 0
	for _, set := range []bool{t.Cron != nil, t.Storage != nil, t.Queue != nil, t.HTTP != nil, t.CloudEvents != nil} {
		if set {
			parts++
		}
	}
	ok := parts == 1 && (t.Kind == TriggerCron && t.Cron != nil || t.Kind == TriggerStorage && t.Storage != nil ||
		t.Kind == TriggerQueue && t.Queue != nil || t.Kind == TriggerHTTP && t.HTTP != nil ||
		t.Kind == TriggerCloudEvents && t.CloudEvents != nil)
	if !ok {
		return fmt.Errorf("%w: kind %q needs exactly its own settings (cron, storage, queue, http or cloudevents)", ErrInvalidTrigger, t.Kind)
	}
	return nil
}

// SecretMarker stands for a secret in every trigger spec sluice shows: a URL's password or
// token, a storage secret key.
const SecretMarker = "***"

// Redacted is t as it may be shown (API answers, CLI output, logs): the storage secret key is
// left out, the password of a queue or endpoint URL (or its token, a user without a password)
// becomes SecretMarker, and SecretSet says that a secret is stored. The stored spec keeps them;
// only adapters read it. This is the one rule of what a trigger shows.
func (t Trigger) Redacted() Trigger {
	if t.Storage != nil {
		s := *t.Storage
		endpoint := RedactURL(s.Endpoint)
		s.SecretSet = s.SecretKey != "" || endpoint != s.Endpoint
		s.SecretKey, s.Endpoint = "", endpoint
		t.Storage = &s
	}
	if t.Queue != nil {
		q := *t.Queue
		u := RedactURL(q.URL)
		q.SecretSet = u != q.URL
		q.URL = u
		t.Queue = &q
	}
	return t
}

// RedactText replaces every secret of t found in s (an adapter's error, a log line) by
// SecretMarker. Secrets shorter than 4 bytes are left, as hiding them would garble any text.
func (t Trigger) RedactText(s string) string {
	var secrets []string
	fromURL := func(raw string) {
		if raw == "" {
			return
		}
		if red := RedactURL(raw); red != raw {
			s = strings.ReplaceAll(s, raw, red)
		}
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			secret, ok := u.User.Password()
			if !ok {
				secret = u.User.Username() // a token
			}
			secrets = append(secrets, secret, url.QueryEscape(secret), url.PathEscape(secret))
		}
	}
	if t.Storage != nil {
		secrets = append(secrets, t.Storage.SecretKey)
		fromURL(t.Storage.Endpoint)
	}
	if t.Queue != nil {
		fromURL(t.Queue.URL)
	}
	for _, secret := range secrets {
		if len(secret) >= 4 && secret != SecretMarker {
			s = strings.ReplaceAll(s, secret, SecretMarker)
		}
	}
	return s
}

// WithSecretsOf returns t, a spec sent to replace old (the zero Trigger when there is none), with
// the secrets it left out taken from old, so that a client may send back what it was shown: a
// storage spec without its secret key (or with SecretMarker) keeps old's when the endpoint and
// access key are the same; a URL whose password (or token) is SecretMarker keeps old's when
// scheme, user and host are the same. SecretSet flags are cleared: they are never stored. A
// SecretMarker with nothing to keep is an error wrapping ErrInvalidTrigger.
func (t Trigger) WithSecretsOf(old Trigger) (Trigger, error) {
	if t.Storage != nil {
		s := *t.Storage
		s.SecretSet = false
		var o StorageSpec
		if old.Storage != nil {
			o = *old.Storage
		}
		endpoint, err := keepURLSecret(s.Endpoint, o.Endpoint, "storage endpoint")
		if err != nil {
			return t, err
		}
		s.Endpoint = endpoint
		if (s.SecretKey == "" || s.SecretKey == SecretMarker) && s.AccessKey != "" {
			if o.SecretKey != "" && o.AccessKey == s.AccessKey && o.Endpoint == s.Endpoint {
				s.SecretKey = o.SecretKey
			} else if s.SecretKey == SecretMarker {
				return t, fmt.Errorf("%w: storage secret key %s: no stored trigger %q with this endpoint and access key has one to keep: send the secret key",
					ErrInvalidTrigger, SecretMarker, t.ID)
			}
		}
		t.Storage = &s
	}
	if t.Queue != nil {
		q := *t.Queue
		q.SecretSet = false
		var o string
		if old.Queue != nil {
			o = old.Queue.URL
		}
		u, err := keepURLSecret(q.URL, o, "queue url")
		if err != nil {
			return t, err
		}
		q.URL = u
		t.Queue = &q
	}
	return t, nil
}

// keepURLSecret returns raw with old's password (or token) when raw's is SecretMarker and both
// URLs have the same scheme, user and host.
func keepURLSecret(raw, old, what string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, nil
	}
	pass, hasPass := u.User.Password()
	if !hasPass && u.User.Username() != SecretMarker || hasPass && pass != SecretMarker {
		return raw, nil
	}
	if o, err := url.Parse(old); err == nil && o.User != nil && o.Scheme == u.Scheme && o.Host == u.Host {
		_, oldHasPass := o.User.Password()
		if hasPass && oldHasPass && o.User.Username() == u.User.Username() || !hasPass && !oldHasPass {
			u.User = o.User
			return u.String(), nil
		}
	}
	return raw, fmt.Errorf("%w: %s %s: its password or token is %s and no stored trigger of this id with the same scheme, user and host has one to keep: send it",
		ErrInvalidTrigger, what, RedactURL(raw), SecretMarker)
}

// RedactURL returns raw with the password of its user information replaced by SecretMarker (a
// user without a password is a token, replaced whole) and the values of its query hidden; raw
// itself when it holds none. Text that does not parse as a URL but has an '@' loses everything
// between "://" (or its start) and its last '@'.
func RedactURL(raw string) string {
	if !strings.ContainsAny(raw, "@?") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User == nil && strings.Contains(raw, "@") {
		return redactAt(raw)
	}
	shown := *u
	shown.User = nil
	if u.RawQuery != "" {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(u.Query())) {
			parts = append(parts, url.QueryEscape(k)+"="+SecretMarker)
		}
		shown.RawQuery = strings.Join(parts, "&")
	}
	if u.User == nil {
		return shown.String()
	}
	prefix := u.Scheme + "://"
	s := shown.String()
	if !strings.HasPrefix(s, prefix) {
		return redactAt(raw)
	}
	user := SecretMarker
	if _, ok := u.User.Password(); ok {
		user = url.User(u.User.Username()).String() + ":" + SecretMarker
	}
	return prefix + user + "@" + s[len(prefix):]
}

// redactAt hides what comes before the last '@' of raw, after its "://" when it has one.
func redactAt(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		if q := strings.IndexByte(raw, '?'); q >= 0 {
			return raw[:q+1] + SecretMarker
		}
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[:start] + SecretMarker + raw[at:]
}

// RedactError is err with its message passed through RedactText; errors.Is and errors.As still
// see err. Nil for nil.
func (t Trigger) RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := t.RedactText(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}

type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
