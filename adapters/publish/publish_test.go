package publish_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/adapters/publish"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
)

func TestPublishStoresOnceAndRejectsMalformed(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	pub := publish.New(bus.JS)
	ev := event.New()
	ev.SetID("tick-1")
	ev.SetSource("/sluice/cron/t1")
	ev.SetType(events.TypeCronTick)
	for range 3 { // a retried publish is absorbed by the duplicate window
		if err := pub.Publish(ctx, "job", ev); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := bus.JS.Stream(ctx, events.StreamInvoke)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d events stored, want 1", info.State.Msgs)
	}
	if err := pub.Publish(ctx, "job", event.New()); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("malformed event: %v", err)
	}
	if err := pub.Publish(ctx, "Bad.Name", ev); !errors.Is(err, events.ErrInvalidName) {
		t.Fatalf("bad function name: %v", err)
	}
}
