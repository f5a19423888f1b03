package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
)

// deployFns deploys functions the logs API can be asked about.
func deployFns(t *testing.T, e *env, fns ...string) {
	t.Helper()
	ref := e.upload(t)
	body := `{"runtime":"python","handler":"main.handler","code":{"sha256":"` + ref.SHA256 + `"}}`
	for _, fn := range fns {
		if st, ed := e.do(t, "PUT", "/v1/functions/"+fn, body, nil); st != 201 {
			t.Fatalf("deploy %s: %d %+v", fn, st, ed)
		}
	}
}

func publishBatch(t *testing.T, e *env, fn string, lines ...events.LogLine) {
	t.Helper()
	b, err := events.EncodeLogBatch(events.LogBatch{Function: fn, Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bus.JS.Publish(context.Background(), events.LogsSubject(fn), b); err != nil {
		t.Fatal(err)
	}
}

func publishMeter(t *testing.T, e *env, m events.Meter) {
	t.Helper()
	msg, err := events.NewMeterMsg(m, events.MeterMsgID(m.InvocationID, 0, m.Attempt))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bus.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// getLogs reads a function's logs, with the SSE ids when sse.
func getLogs(t *testing.T, e *env, fn, query string, sse bool) (lines []events.LogLine, ids []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/functions/"+fn+"/logs"+query, nil)
	if sse {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, s := range strings.Split(string(b), "\n") {
		if id, ok := strings.CutPrefix(s, "id: "); ok {
			ids = append(ids, id)
			continue
		}
		s = strings.TrimPrefix(s, "data: ")
		if s == "" {
			continue
		}
		var l events.LogLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("line %q: %v", s, err)
		}
		lines = append(lines, l)
	}
	return lines, ids
}

func line(fn, inv string, at time.Time, msg string) events.LogLine {
	return events.LogLine{Time: at, Function: fn, Version: 1, Instance: "w-1", InvocationID: inv, Stream: "stdout", Message: msg}
}

// The logs API merges a function's batch records, old single-line records and the START, END
// and REPORT of its meter records by time: two interleaved invocations each read START, their
// lines in order, END and REPORT, with their ids.
func TestLogsMergeLinesAndMeterRecords(t *testing.T) {
	e := start(t)
	deployFns(t, e, "merged", "other")
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// a runs from 0 to 50 ms, b from 10 to 80 ms; b printed at 12 before a's 15.
	a := events.Meter{InvocationID: "inv-a", Function: "merged", Version: 1, Start: ms(0), DurationMs: 50, BilledMs: 50,
		MemoryMB: 128, Outcome: events.OutcomeOK, Cold: true, ColdStart: "scratch", InitMs: 3, Attempt: 1, Ran: true}
	b := events.Meter{InvocationID: "inv-b", Function: "merged", Version: 1, Start: ms(10), DurationMs: 70, BilledMs: 70,
		MemoryMB: 128, PeakMemoryMB: 30.5, Outcome: events.OutcomeError, Attempt: 1, Ran: true}
	publishBatch(t, e, "merged", line("merged", "inv-a", ms(5), "a 1"), line("merged", "inv-b", ms(12), "b 1"), line("merged", "inv-a", ms(15), "a 2"))
	publishBatch(t, e, "other", line("other", "inv-o", ms(16), "not mine"))
	publishLog(t, e, "merged", "inv-b", "b 2", ms(20)) // a record of the single-line form, as before batches
	publishBatch(t, e, "merged", line("merged", "inv-a", ms(40), "a 3"), line("merged", "inv-b", ms(60), "b 3"))
	publishMeter(t, e, a)
	publishMeter(t, e, events.Meter{InvocationID: "inv-r", Function: "merged", Start: ms(55), Outcome: events.OutcomeRejected, Attempt: 1}) // no instance: no lines
	publishMeter(t, e, b)
	publishBatch(t, e, "merged", line("merged", "inv-c", ms(90), "c 1"))

	la, lb := events.MeterLines(a), events.MeterLines(b)
	want := []string{la[0].Message, "a 1", lb[0].Message, "b 1", "a 2", "b 2", "a 3", la[1].Message, la[2].Message, "b 3", lb[1].Message, lb[2].Message, "c 1"}
	got, _ := getLogs(t, e, "merged", "?since=1h", false)
	var msgs []string
	for _, l := range got {
		msgs = append(msgs, l.Message)
		inv := map[byte]string{'a': "inv-a", 'b': "inv-b", 'c': "inv-c"}[l.Message[0]]
		if l.Stream == "platform" { // START RequestId: ID ...
			inv = strings.Fields(l.Message)[2]
		}
		if l.InvocationID != inv || l.Function != "merged" {
			t.Errorf("line %+v: want invocation %s of merged", l, inv)
		}
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasSuffix(want[8], "Outcome: ok Init Duration: 3.00 ms Start: scratch") || !strings.Contains(want[11], "Max Memory Used: 31 MB Outcome: error") {
		t.Fatalf("REPORT lines %q, %q", want[8], want[11])
	}

	// One invocation, filtered on the node: its START, lines, END and REPORT.
	got, _ = getLogs(t, e, "merged", "?since=1h&invocation=inv-b", false)
	msgs = nil
	for _, l := range got {
		msgs = append(msgs, l.Message)
	}
	if w := []string{lb[0].Message, "b 1", "b 2", "b 3", lb[1].Message, lb[2].Message}; strings.Join(msgs, "\n") != strings.Join(w, "\n") {
		t.Fatalf("invocation inv-b:\n%s", strings.Join(msgs, "\n"))
	}
	if got, _ := getLogs(t, e, "merged", "?since=1h&grep=REPORT", false); len(got) != 2 || got[0].InvocationID != "inv-a" || got[1].InvocationID != "inv-b" {
		t.Fatalf("grep REPORT: %+v", got)
	}

	// As SSE: the same lines, each with an id of its own naming its record.
	got, ids := getLogs(t, e, "merged", "?since=1h", true)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || !strings.HasPrefix(id, "logs.") && !strings.HasPrefix(id, "meters.") {
			t.Fatalf("ids %q", ids)
		}
		seen[id] = true
	}
	if len(got) != len(want) || len(ids) != len(want) || ids[0] != "meters.1.0" || ids[1] != "logs.1.0" || ids[2] != "meters.3.0" {
		t.Fatalf("sse: %d lines, ids %q", len(got), ids)
	}
}

// With follow, lines and the START, END and REPORT of meter records arrive as they are stored.
func TestLogsFollowShowsLinesLive(t *testing.T) {
	e := start(t)
	deployFns(t, e, "live")
	want := followLogs(t, e, "live")
	for i := range 3 {
		inv := fmt.Sprint("inv-", i)
		began := time.Now()
		publishBatch(t, e, "live", line("live", inv, began, fmt.Sprint(i, " one")), line("live", inv, began.Add(time.Microsecond), fmt.Sprint(i, " two")))
		want(fmt.Sprint(i, " one"), fmt.Sprint(i, " two"))
		t.Logf("lines %d came %s after they were printed", i, time.Since(began).Round(time.Millisecond))
		m := events.Meter{InvocationID: inv, Function: "live", Version: 1, Start: time.Now(), DurationMs: 1, BilledMs: 1, MemoryMB: 128, Outcome: events.OutcomeOK, Attempt: 1, Ran: true}
		publishMeter(t, e, m)
		ml := events.MeterLines(m)
		want(ml[0].Message, ml[1].Message, ml[2].Message)
	}
}

// followLogs follows fn's logs (follow=1) until the test ends; want waits for the next lines,
// in order, each within 10 s.
func followLogs(t *testing.T, e *env, fn string) (want func(msgs ...string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/functions/"+fn+"/logs?follow=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan events.LogLine, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l events.LogLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				select {
				case lines <- l:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		for range lines {
		}
		resp.Body.Close()
	})
	return func(msgs ...string) {
		t.Helper()
		for _, msg := range msgs {
			select {
			case l := <-lines:
				if l.Message != msg {
					t.Fatalf("line = %+v, want %q", l, msg)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no line %q within 10s", msg)
			}
		}
	}
}

// Reading logs, metrics and dead letters leaves no consumer on their streams: the server allows
// a stream a thousand, and a client polling them must not use those up for everyone.
func TestReadsLeaveNoConsumers(t *testing.T) {
	e := start(t)
	deployFns(t, e, "polled")
	publishBatch(t, e, "polled", line("polled", "inv-1", time.Now().Add(-time.Second), "hello"))
	publishMeter(t, e, events.Meter{InvocationID: "inv-1", Function: "polled", Version: 1, Start: time.Now().Add(-time.Second),
		DurationMs: 1, BilledMs: 1, MemoryMB: 128, Outcome: events.OutcomeOK, Attempt: 1, Ran: true})
	for range 20 {
		if lines, _ := getLogs(t, e, "polled", "?since=1m", false); len(lines) != 4 {
			t.Fatalf("logs: %+v", lines)
		}
		if st, body := e.do(t, "GET", "/v1/functions/polled/metrics?since=5m", "", nil); st != 200 {
			t.Fatalf("metrics: %d %s", st, body)
		}
		if st, body := e.do(t, "GET", "/v1/functions/polled/dlq", "", nil); st != 200 {
			t.Fatalf("dlq: %d %s", st, body)
		}
	}
	for _, name := range []string{events.StreamLogs, events.StreamMeters, events.StreamDLQ} {
		s, err := e.bus.JS.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers != 0 {
			t.Errorf("%s: %d consumers left behind by 20 reads", name, info.State.Consumers)
		}
	}
}
