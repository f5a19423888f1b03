package events_test

import (
	"testing"
	"time"

	"sluice.dev/events"
)

func TestTriggerRecords(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tr := events.Trigger{ID: "t1", Function: "hello", Kind: events.TriggerCron,
		Cron: &events.CronSpec{Expr: "@every 10s", Data: []byte(`{"a":1}`)}, Created: at}
	b, err := events.EncodeTrigger(tr)
	// As the registry has always stored a spec (cron data as base64).
	const spec = `{"id":"t1","function":"hello","kind":"cron","cron":{"expr":"@every 10s","data":"eyJhIjoxfQ=="},"created":"2025-01-02T03:04:05Z"}`
	if err != nil || string(b) != spec {
		t.Errorf("spec = %s, %v", b, err)
	}
	got, err := events.DecodeTrigger([]byte(spec))
	if err != nil || got.ID != "t1" || got.Cron == nil || string(got.Cron.Data) != `{"a":1}` || !got.Created.Equal(at) {
		t.Errorf("decoded spec = %+v, %v", got, err)
	}

	st := events.TriggerStatus{ID: "t1", State: events.StateRunning, Events: 4, Updated: at, Owner: "a1"}
	b, err = events.EncodeTriggerStatus(st)
	const status = `{"id":"t1","state":"running","events":4,"updated":"2025-01-02T03:04:05Z","owner":"a1"}`
	if err != nil || string(b) != status {
		t.Errorf("status = %s, %v", b, err)
	}
	if got, err := events.DecodeTriggerStatus([]byte(status)); err != nil || got != st {
		t.Errorf("decoded status = %+v, %v", got, err)
	}
	if _, err := events.DecodeTrigger([]byte(`{"cron":1}`)); err == nil {
		t.Error("a bad spec decoded")
	}
}
