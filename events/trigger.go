package events

import (
	"errors"
	"fmt"
	"time"
)

// Trigger kinds.
const (
	TriggerCron    = "cron"
	TriggerStorage = "storage"
	TriggerQueue   = "queue"
	TriggerHTTP    = "http"
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
	Created  time.Time    `json:"created"`
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
	Raw       bool     `json:"raw,omitempty"` // hand the function AWS's {"Records": [...]} payload as is
}

// QueueSpec fires on messages of a queue: nats://HOST:PORT/SUBJECT,
// jetstream://HOST:PORT/STREAM or amqp://USER:PASS@HOST:PORT/QUEUE.
type QueueSpec struct {
	URL         string `json:"url"`
	Batch       int    `json:"batch,omitempty"`       // messages fetched at once, where the source has it
	MaxInFlight int    `json:"maxInFlight,omitempty"` // unacknowledged messages at most
}

// HTTPSpec routes an HTTP path and method to the function, beside /fn/{name}.
type HTTPSpec struct {
	Path   string   `json:"path"`             // e.g. /orders/{id}
	Method string   `json:"method,omitempty"` // any when empty
	Public bool     `json:"public,omitempty"` // callable without the token
	CORS   []string `json:"cors,omitempty"`   // allowed origins; none when empty
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
	for _, set := range []bool{t.Cron != nil, t.Storage != nil, t.Queue != nil, t.HTTP != nil} {
		if set {
			parts++
		}
	}
	ok := parts == 1 && (t.Kind == TriggerCron && t.Cron != nil || t.Kind == TriggerStorage && t.Storage != nil ||
		t.Kind == TriggerQueue && t.Queue != nil || t.Kind == TriggerHTTP && t.HTTP != nil)
	if !ok {
		return fmt.Errorf("%w: kind %q needs exactly its own settings (cron, storage, queue or http)", ErrInvalidTrigger, t.Kind)
	}
	return nil
}
