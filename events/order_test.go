package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func TestParseOrderKey(t *testing.T) {
	headers := map[string][]string{"Customer-Id": {"c-7"}}
	for spec, want := range map[string]string{
		"header:customer-id": "c-7",
		"header:missing":     "",
		"subject:2":          "eu",
		"subject:9":          "",
		"routing-key":        "orders.eu",
		"object-key":         "a/b.txt",
	} {
		o, err := events.ParseOrderKey(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if got := o.Key(headers, "orders.eu.new", "orders.eu", "a/b.txt"); got != want {
			t.Errorf("%s: key %q, want %q", spec, got, want)
		}
	}
	for _, bad := range []string{"", "header", "header:", "header:a b", "subject:x", "subject:0", "routing-key:x", "body"} {
		if _, err := events.ParseOrderKey(bad); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%q: %v, want ErrInvalidTrigger", bad, err)
		}
	}
	long, _ := events.ParseOrderKey("object-key")
	for _, odd := range []string{strings.Repeat("k", events.MaxOrderKey+1), "a\r\nNats-Msg-Id: x"} {
		if k := long.Key(nil, "", "", odd); !strings.HasPrefix(k, "sha256:") || len(k) > events.MaxOrderKey {
			t.Errorf("key of %q: %q", odd, k)
		}
	}
}

// An ordered event is found while it waits, as any other.
func TestFindQueuedOrderedEvent(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	ev := event.New()
	ev.SetID("inv-1")
	ev.SetSource("/test")
	ev.SetType("test")
	ev.SetExtension(events.ExtOrderKey, "customer-7")
	m, err := events.NewMsg(events.SubjectOf("fn", ev), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	s, err := bus.JS.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	res, err := events.FindQueued(ctx, s, "inv-1")
	if err != nil || res.Function != "fn" || res.Status != events.StatusQueued {
		t.Fatalf("%+v: %v", res, err)
	}
}
