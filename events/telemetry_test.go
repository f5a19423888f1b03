package events_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

func TestMeterRecord(t *testing.T) {
	m := events.Meter{InvocationID: "ev-1", Function: "hello", Version: 2, Trigger: "invoke",
		Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), DurationMs: 1.5, BilledMs: 2, MemoryMB: 128,
		Outcome: events.OutcomeOK, Cold: true, ColdStart: "scratch", InitMs: 10, Attempt: 1}
	msg, err := events.NewMeterMsg(m, events.MeterMsgID("ev-1", 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	// As the worker's telemetry has always published it.
	const want = `{"invocationId":"ev-1","function":"hello","version":2,"trigger":"invoke","start":"2025-01-02T03:04:05Z","durationMs":1.5,"billedMs":2,"memoryMB":128,"outcome":"ok","cold":true,"coldStart":"scratch","initMs":10,"attempt":1}`
	if msg.Subject != "sluice.meters.hello" || msg.Header.Get(nats.MsgIdHdr) != "meter-ev-1.0.1" || string(msg.Data) != want {
		t.Errorf("meter message = %s %v %s", msg.Subject, msg.Header, msg.Data)
	}
	got, err := events.DecodeMeter([]byte(want))
	if err != nil || got != m {
		t.Errorf("decoded = %+v, %v", got, err)
	}
	if _, err := events.DecodeMeter([]byte(`[`)); err == nil {
		t.Error("a broken record decoded")
	}
}

func TestLogLineRecord(t *testing.T) {
	l := events.LogLine{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Function: "hello", Version: 2,
		Instance: "i-1", InvocationID: "ev-1", Stream: "stdout", Message: "<hi>"}
	b, err := events.EncodeLogLine(l)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"time":"2025-01-02T03:04:05Z","function":"hello","version":2,"instance":"i-1","invocationId":"ev-1","stream":"stdout","message":"\u003chi\u003e"}`
	if string(b) != want {
		t.Errorf("encoded = %s\nwant %s", b, want)
	}
	got, err := events.DecodeLogLine([]byte(want))
	if err != nil || got != l {
		t.Errorf("decoded = %+v, %v", got, err)
	}
	if _, err := events.DecodeLogLine([]byte(`not json`)); err == nil {
		t.Error("a broken line decoded")
	}
}
