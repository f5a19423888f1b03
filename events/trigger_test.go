package events

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"amqp://guest:s3cret-pw@mq:5672/orders":       "amqp://guest:***@mq:5672/orders",
		"nats://user:p%40ss%2Fword@nats:4222/a.b":     "nats://user:***@nats:4222/a.b",
		"nats://s3cret-token@nats:4222/a.b":           "nats://***@nats:4222/a.b",
		"jetstream://nats:4222/ORDERS":                "jetstream://nats:4222/ORDERS",
		"http://minio:9000":                           "http://minio:9000",
		"minio:9000":                                  "minio:9000",
		"":                                            "",
		"amqp://guest:pa/ss@mq/q":                     "amqp://***@mq/q",
		"amqp://guest:pa#ss@mq/q":                     "amqp://***@mq/q",
		"amqp://guest:12/34@mq/q":                     "amqp://***@mq/q",
		"nats://nats:4222/a?token=s3cret-token&x=1":   "nats://nats:4222/a?token=***&x=***",
		"amqp://guest:***@mq:5672/orders":             "amqp://guest:***@mq:5672/orders",
		"amqp://gu%20est:s3cret-pw@mq:5672/or%20ders": "amqp://gu%20est:***@mq:5672/or%20ders",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestTriggerRedacted(t *testing.T) {
	tr := Trigger{ID: "t", Function: "f", Kind: TriggerStorage,
		Storage: &StorageSpec{Bucket: "b", Endpoint: "minio:9000", AccessKey: "ak", SecretKey: "s3cret-key"}}
	red := tr.Redacted()
	if red.Storage.SecretKey != "" || !red.Storage.SecretSet || red.Storage.AccessKey != "ak" || red.Storage.Endpoint != "minio:9000" {
		t.Errorf("redacted storage: %+v", red.Storage)
	}
	if tr.Storage.SecretKey != "s3cret-key" || tr.Storage.SecretSet {
		t.Errorf("the original was changed: %+v", tr.Storage)
	}
	if anon := (Trigger{Storage: &StorageSpec{Bucket: "b"}}).Redacted(); anon.Storage.SecretSet {
		t.Errorf("no secret, flagged: %+v", anon.Storage)
	}

	q := Trigger{ID: "q", Function: "f", Kind: TriggerQueue, Queue: &QueueSpec{URL: "amqp://guest:s3cret-pw@mq:5672/orders"}}
	red = q.Redacted()
	if red.Queue.URL != "amqp://guest:***@mq:5672/orders" || !red.Queue.SecretSet || q.Queue.URL != "amqp://guest:s3cret-pw@mq:5672/orders" {
		t.Errorf("redacted queue: %+v (original %+v)", red.Queue, q.Queue)
	}
	if plain := (Trigger{Queue: &QueueSpec{URL: "nats://nats:4222/a"}}).Redacted(); plain.Queue.SecretSet || plain.Queue.URL != "nats://nats:4222/a" {
		t.Errorf("no secret: %+v", plain.Queue)
	}
}

func TestTriggerRedactText(t *testing.T) {
	q := Trigger{Queue: &QueueSpec{URL: "amqp://guest:s3cr%2Ft-pw@mq:5672/orders"}}
	got := q.RedactText(`dial amqp://guest:s3cr%2Ft-pw@mq:5672/ failed; password "s3cr/t-pw" refused`)
	if strings.Contains(got, "s3cr") {
		t.Errorf("RedactText kept the password: %s", got)
	}
	err := q.RedactError(fmt.Errorf("%w: amqp://guest:s3cr%%2Ft-pw@mq:5672/ refused", ErrInvalidTrigger))
	if !errors.Is(err, ErrInvalidTrigger) || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("RedactError = %v", err)
	}
	s := Trigger{Storage: &StorageSpec{SecretKey: "s3cret-key"}}
	if got := s.RedactText("signature with s3cret-key does not match"); got != "signature with *** does not match" {
		t.Errorf("RedactText = %q", got)
	}
}

func TestTriggerWithSecretsOf(t *testing.T) {
	old := Trigger{ID: "t", Kind: TriggerQueue, Queue: &QueueSpec{URL: "amqp://guest:s3cret-pw@mq:5672/orders"}}
	shown := old.Redacted()
	shown.Queue.URL = strings.Replace(shown.Queue.URL, "/orders", "/refunds", 1)
	got, err := shown.WithSecretsOf(old)
	if err != nil || got.Queue.URL != "amqp://guest:s3cret-pw@mq:5672/refunds" || got.Queue.SecretSet {
		t.Errorf("queue kept: %+v %v", got.Queue, err)
	}
	other := old.Redacted()
	other.Queue.URL = "amqp://admin:***@mq:5672/orders"
	if _, err := other.WithSecretsOf(old); !errors.Is(err, ErrInvalidTrigger) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("another user took the stored password: %v", err)
	}
	if _, err := old.Redacted().WithSecretsOf(Trigger{}); !errors.Is(err, ErrInvalidTrigger) {
		t.Errorf("a marker with nothing to keep: %v", err)
	}
	if got, err := old.WithSecretsOf(Trigger{}); err != nil || got.Queue.URL != old.Queue.URL {
		t.Errorf("a new password: %+v %v", got.Queue, err)
	}

	tok := Trigger{Kind: TriggerQueue, Queue: &QueueSpec{URL: "nats://s3cret-token@nats:4222/a"}}
	if got, err := tok.Redacted().WithSecretsOf(tok); err != nil || got.Queue.URL != tok.Queue.URL {
		t.Errorf("token kept: %+v %v", got.Queue, err)
	}

	st := Trigger{ID: "s", Kind: TriggerStorage, Storage: &StorageSpec{Bucket: "b", Endpoint: "minio:9000", AccessKey: "ak", SecretKey: "s3cret-key"}}
	got, err = st.Redacted().WithSecretsOf(st)
	if err != nil || got.Storage.SecretKey != "s3cret-key" || got.Storage.SecretSet {
		t.Errorf("storage kept: %+v %v", got.Storage, err)
	}
	moved := st.Redacted()
	moved.Storage.Endpoint = "elsewhere:9000"
	if got, _ := moved.WithSecretsOf(st); got.Storage.SecretKey != "" {
		t.Errorf("the secret key went to another endpoint: %+v", got.Storage)
	}
	marked := *st.Storage
	marked.SecretKey = SecretMarker
	if _, err := (Trigger{Kind: TriggerStorage, Storage: &marked}).WithSecretsOf(Trigger{}); !errors.Is(err, ErrInvalidTrigger) {
		t.Errorf("a marker with nothing to keep: %v", err)
	}
}
