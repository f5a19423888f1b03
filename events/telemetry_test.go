package events_test

import (
	"strings"
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

func TestLogBatchRecord(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	lines := []events.LogLine{
		{Time: at, Function: "hello", Version: 2, Instance: "i-1", InvocationID: "ev-1", Stream: "stdout", Message: "one"},
		{Time: at.Add(time.Millisecond), Function: "hello", Version: 2, Instance: "i-2", InvocationID: "ev-2", Stream: "stderr", Message: "two"},
		{Time: at.Add(2 * time.Millisecond), Function: "hello", Stream: "platform", Message: "sluice: dropped 3 lines"},
	}
	b, err := events.EncodeLogBatch(events.LogBatch{Function: "hello", Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"function":"hello","lines":[` +
		`{"time":"2025-01-02T03:04:05Z","version":2,"instance":"i-1","invocationId":"ev-1","stream":"stdout","message":"one"},` +
		`{"time":"2025-01-02T03:04:05.001Z","version":2,"instance":"i-2","invocationId":"ev-2","stream":"stderr","message":"two"},` +
		`{"time":"2025-01-02T03:04:05.002Z","stream":"platform","message":"sluice: dropped 3 lines"}]}`
	if string(b) != want {
		t.Fatalf("encoded = %s\nwant %s", b, want)
	}
	got, err := events.DecodeLogBatch(b)
	if err != nil || got.Function != "hello" || len(got.Lines) != 3 {
		t.Fatalf("decoded = %+v, %v", got, err)
	}
	for i := range lines {
		if got.Lines[i] != lines[i] {
			t.Errorf("line %d = %+v, want %+v", i, got.Lines[i], lines[i])
		}
	}
	// A record of the single-line form, as published before batches, reads as a batch of that
	// line.
	const old = `{"time":"2025-01-02T03:04:05Z","function":"hello","version":2,"instance":"i-1","invocationId":"ev-1","stream":"stdout","message":"one"}`
	got, err = events.DecodeLogBatch([]byte(old))
	if err != nil || got.Function != "hello" || len(got.Lines) != 1 || got.Lines[0] != lines[0] {
		t.Fatalf("old record decoded = %+v, %v", got, err)
	}
	if _, err := events.DecodeLogBatch([]byte(`{"function":`)); err == nil {
		t.Error("a broken record decoded")
	}
}

func TestLogBatchesKeepToTheirLimit(t *testing.T) {
	var lines []events.LogLine
	for i := range 100 {
		lines = append(lines, events.LogLine{Time: time.Unix(int64(i), 0), Function: "f", InvocationID: "ev", Stream: "stdout", Message: strings.Repeat("x", i)})
	}
	lines = append(lines, events.LogLine{Function: "f", Stream: "stdout", Message: strings.Repeat("\x00", 2000)}) // past the limit alone
	lines = append(lines, events.LogLine{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Function: "f", Stream: "stdout"})
	lines = append(lines, events.LogLine{Function: "f", Stream: "stdout", Message: "last"})
	const limit = 1000
	recs, skipped, err := events.EncodeLogBatches("f", lines, limit)
	if skipped != 1 || err == nil {
		t.Fatalf("skipped %d, %v: want the line of year 10000", skipped, err)
	}
	var back []events.LogLine
	for i, r := range recs {
		b, err := events.DecodeLogBatch(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Data) > limit && len(b.Lines) != 1 || len(b.Lines) != r.Lines {
			t.Errorf("record %d: %d bytes, %d lines, counted %d", i, len(r.Data), len(b.Lines), r.Lines)
		}
		back = append(back, b.Lines...)
	}
	want := append(append([]events.LogLine(nil), lines[:101]...), lines[102])
	if len(back) != len(want) || len(recs) < 5 || len(recs) > 20 {
		t.Fatalf("%d lines back in %d records, want %d", len(back), len(recs), len(want))
	}
	for i := range want {
		if !back[i].Time.Equal(want[i].Time) || back[i].Message != want[i].Message || back[i].InvocationID != want[i].InvocationID {
			t.Fatalf("line %d = %+v, want %+v", i, back[i], want[i])
		}
	}
}

// MeterLines writes what the worker's START, END and REPORT lines said.
func TestMeterLines(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	const peak = 20<<20 + 1 // bytes: 21 MB used, rounded up
	m := events.Meter{InvocationID: "ev-1", Function: "hello", Version: 3, Start: start, DurationMs: 12.345,
		BilledMs: 13, MemoryMB: 128, PeakMemoryMB: float64(peak) / (1 << 20), Outcome: events.OutcomeOK,
		Cold: true, ColdStart: "pre-started", InitMs: 56.789, Attempt: 1, Ran: true}
	got := events.MeterLines(m)
	want := []string{
		"START RequestId: ev-1 Version: 3",
		"END RequestId: ev-1",
		"REPORT RequestId: ev-1 Duration: 12.35 ms Billed Duration: 13 ms Memory Size: 128 MB Max Memory Used: 21 MB Outcome: ok Init Duration: 56.79 ms Start: pre-started",
	}
	end := start.Add(12345 * time.Microsecond)
	if len(got) != 3 {
		t.Fatalf("lines = %+v", got)
	}
	for i, l := range got {
		at := end
		if i == 0 {
			at = start
		}
		if l.Message != want[i] || !l.Time.Equal(at) || l.Stream != "platform" || l.Function != "hello" || l.Version != 3 || l.InvocationID != "ev-1" || l.Instance != "" {
			t.Errorf("line %d = %+v, want %q at %s", i, l, want[i], at)
		}
	}
	// Warm, no measurement: neither Max Memory Used nor Init Duration.
	m.Cold, m.ColdStart, m.InitMs, m.PeakMemoryMB, m.Outcome = false, "", 0, 0, events.OutcomeTimeout
	if got := events.MeterLines(m)[2].Message; got != "REPORT RequestId: ev-1 Duration: 12.35 ms Billed Duration: 13 ms Memory Size: 128 MB Outcome: timeout" {
		t.Errorf("warm REPORT = %q", got)
	}
	// An exact peak stays as it is.
	m.PeakMemoryMB = 20
	if got := events.MeterLines(m)[2].Message; !strings.Contains(got, " Max Memory Used: 20 MB ") {
		t.Errorf("REPORT = %q", got)
	}
	// No instance took the attempt (or the record is older than Ran): no lines.
	m.Ran = false
	if got := events.MeterLines(m); len(got) != 0 {
		t.Errorf("lines of an attempt that did not run: %+v", got)
	}
	// A record round trip keeps what the lines need.
	m.Ran = true
	msg, _ := events.NewMeterMsg(m, "x")
	back, err := events.DecodeMeter(msg.Data)
	if err != nil || !back.Ran || events.MeterLines(back)[2].Message != events.MeterLines(m)[2].Message || !back.End().Equal(end) {
		t.Errorf("decoded %+v, %v", back, err)
	}
}
