package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// The dead-letter API's pages (services/api): the default and the most one answer holds.
const (
	dlqPageDefault = 100
	dlqPageMax     = 1000
)

// dlqPage is the answer of GET /v1/functions/NAME/dlq.
type dlqPage struct {
	Events []events.DeadLetter `json:"events"`
	Next   uint64              `json:"next"`
}

// A dead-letter queue of 2,500 events is listed and redriven a page at a time: the API answers
// at most dlqPageMax letters per request, and the CLI follows the pages to the end.
func TestDLQPagesThroughThousands(t *testing.T) {
	const letters = 2500
	n := newSite(t).start(t, "--no-worker") // redriven events wait on the bus: nothing runs them
	deployInline(t, n, "brittle", raisePy)
	nc, js := natsClient(t, n.NATSURL)
	ctx := context.Background()
	ids := map[string]bool{}
	for i := range letters {
		m := nats.NewMsg(events.DLQSubject("brittle"))
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ids[id] = true
		m.Header.Set("ce-id", id)
		m.Header.Set("ce-specversion", "1.0")
		m.Header.Set("ce-type", events.TypeInvoke)
		m.Header.Set("ce-source", "/sluice/gateway")
		m.Header.Set(events.HeaderDLQError, `{"errorType":"ValueError","errorMessage":"no thanks"}`)
		m.Header.Set(events.HeaderDLQOutcome, "error")
		m.Header.Set(events.HeaderDLQAttempts, "3")
		m.Header.Set(events.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
		m.Data = fmt.Appendf(nil, `{"n": %d, "pad": %q}`, i, strings.Repeat("p", 1000))
		if _, err := js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("2500 dead letters not stored within a minute")
	}
	_ = nc

	// One page: the default size, and never more than the cap.
	var page dlqPage
	r := n.request(t, http.MethodGet, "/v1/functions/brittle/dlq", nil, false)
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != http.StatusOK {
		t.Fatalf("dlq: %d %s", r.status, r.body)
	}
	if len(page.Events) != dlqPageDefault || page.Next != page.Events[len(page.Events)-1].Seq {
		t.Fatalf("first page: %d letters, next %d", len(page.Events), page.Next)
	}
	if d := page.Events[0]; d.Size < 1000 || d.Attempts != 3 || d.Error == nil || d.Data != nil {
		t.Fatalf("a listed letter: %+v", d)
	}
	r = n.request(t, http.MethodGet, fmt.Sprintf("/v1/functions/brittle/dlq?limit=5000&after=%d", page.Next), nil, false)
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != dlqPageMax || page.Next == 0 {
		t.Fatalf("a page of limit=5000: %d letters, next %d (%d bytes)", len(page.Events), page.Next, len(r.body))
	}
	t.Logf("a page of %d letters: %d bytes", len(page.Events), len(r.body))
	if r := n.request(t, http.MethodGet, "/v1/functions/brittle/dlq?limit=0", nil, false); r.status != http.StatusBadRequest {
		t.Errorf("limit=0: %d %s", r.status, r.body)
	}

	// The CLI follows the pages, as text and as JSON.
	out := n.ok(t, "dlq", "list", "brittle")
	lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(lines) != letters+1 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("dlq list: %d lines, want a header and %d letters; first %q", len(lines), letters, lines[0])
	}
	var all []events.DeadLetter
	if err := json.Unmarshal([]byte(n.ok(t, "dlq", "list", "brittle", "-o", "json").stdout), &all); err != nil {
		t.Fatalf("dlq list -o json: %v", err)
	}
	seen := map[string]bool{}
	for i, d := range all {
		if !ids[d.ID] || seen[d.ID] || (i > 0 && d.Seq <= all[i-1].Seq) {
			t.Fatalf("letter %d: %+v (unknown, repeated or out of order)", i, d)
		}
		seen[d.ID] = true
	}
	if len(all) != letters {
		t.Fatalf("dlq list -o json: %d letters, want %d", len(all), letters)
	}

	// Redrive all of them, a page at a time.
	out = n.ok(t, "dlq", "redrive", "brittle")
	if !strings.Contains(out.stdout, fmt.Sprintf("%d event(s) sent back to brittle", letters)) {
		t.Fatalf("dlq redrive: %s", out.stdout[max(0, len(out.stdout)-300):])
	}
	r = n.request(t, http.MethodGet, "/v1/functions/brittle/dlq", nil, false)
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != 0 {
		t.Fatalf("dlq after the redrive: %s", r.body)
	}
	s, err := js.Stream(ctx, events.StreamInvoke)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.InvokeSubject("brittle")+".>"))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, n := range info.State.Subjects { // a subject per event
		got += int(n)
	}
	if got != letters {
		t.Fatalf("%d redriven events wait in %s, want %d", got, events.StreamInvoke, letters)
	}
}
