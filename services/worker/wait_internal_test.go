package worker

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
)

// An async event whose time has not come is handed back until it has; a synchronous caller is
// never made to wait.
func TestWaitUntil(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	ev := event.New()
	ev.SetExtension(events.ExtNotBefore, "1000250")
	o, wait := waitUntil(job{id: "e"}, ev, now)
	if !wait || o.exit != handedBack || o.delay != 250*time.Millisecond {
		t.Fatalf("before its time: %v %+v", wait, o)
	}
	if _, wait := waitUntil(job{id: "e"}, ev, now.Add(time.Second)); wait {
		t.Fatal("held after its time")
	}
	if _, wait := waitUntil(job{id: "e", reply: "inbox"}, ev, now); wait {
		t.Fatal("a synchronous call held")
	}
	if _, wait := waitUntil(job{id: "e"}, event.New(), now); wait {
		t.Fatal("an event without a time held")
	}
}
