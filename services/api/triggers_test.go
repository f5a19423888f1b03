package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/cron"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/registry"
)

func startTriggers(t *testing.T) (*env, jetstream.KeyValue) {
	t.Helper()
	bus := bustest.Start(t)
	reg, err := registry.New(bus.JS, runtimes(t), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := bus.JS.KeyValue(t.Context(), events.BucketTriggers)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	a := api.New(reg, bus.JS, nil, nil)
	a.Routes(r)
	a.TriggerRoutes(r, map[string]trigger.Factory{events.TriggerCron: cron.Factory(kv)})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{bus: bus, srv: srv}
	return e, kv
}

func TestTriggers(t *testing.T) {
	e, kv := startTriggers(t)
	fn := `{"runtime":"python","handler":"main.handler","inline":{"file":"main.py","content":"def handler(e, c):\n    return 1\n"}}`
	if st, ed := e.do(t, "PUT", "/v1/functions/job", fn, nil); st != 201 {
		t.Fatalf("deploy: %d %+v", st, ed)
	}
	for name, tc := range map[string]struct {
		body, code, msg string
		status          int
	}{
		"bad cron":      {`{"function":"job","kind":"cron","cron":{"expr":"every day"}}`, api.CodeInvalid, "cron expression", 400},
		"bad zone":      {`{"function":"job","kind":"cron","cron":{"expr":"@daily","tz":"Nowhere/Land"}}`, api.CodeInvalid, "time zone", 400},
		"two kinds":     {`{"function":"job","kind":"cron","cron":{"expr":"@daily"},"http":{"path":"/x"}}`, api.CodeInvalid, "exactly its own", 400},
		"unknown kind":  {`{"function":"job","kind":"queue","queue":{"url":"nats://x/y"}}`, api.CodeInvalid, "not available", 400},
		"no function":   {`{"function":"nope","kind":"cron","cron":{"expr":"@daily"}}`, api.CodeFunctionNotFound, "nope", 404},
		"bad id":        {`{"id":"A.B","function":"job","kind":"cron","cron":{"expr":"@daily"}}`, api.CodeInvalid, "trigger id", 400},
		"unknown field": {`{"function":"job","kind":"cron","cron":{"expr":"@daily"},"colour":1}`, api.CodeInvalid, "colour", 400},
	} {
		st, ed := e.do(t, "POST", "/v1/triggers", tc.body, nil)
		if st != tc.status || ed.Code != tc.code || !strings.Contains(ed.Message, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %s %q", name, st, ed, tc.status, tc.code, tc.msg)
		}
	}

	var got events.Trigger
	if st, ed := e.do(t, "POST", "/v1/triggers", `{"function":"job","kind":"cron","cron":{"expr":"*/5 * * * * *","tz":"Europe/Paris"}}`, &got); st != 201 || !strings.HasPrefix(got.ID, "job-cron-") || got.Created.IsZero() {
		t.Fatalf("add: %d %+v %+v", st, ed, got)
	}
	if st, _ := e.do(t, "POST", "/v1/triggers", `{"id":"nightly","function":"job","kind":"cron","cron":{"expr":"@daily"}}`, nil); st != 201 {
		t.Fatalf("add with id: %d", st)
	}
	if st, _ := e.do(t, "POST", "/v1/triggers", `{"id":"nightly","function":"job","kind":"cron","cron":{"expr":"@hourly"}}`, nil); st != 200 {
		t.Fatalf("replace: %d", st)
	}
	if _, err := kv.Put(context.Background(), cron.MemoryKey("nightly"), []byte("2030-01-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Triggers []wire.TriggerView `json:"triggers"`
	}
	if st, _ := e.do(t, "GET", "/v1/triggers?function=job", "", &list); st != 200 || len(list.Triggers) != 2 || list.Triggers[1].Trigger.ID != "nightly" || list.Triggers[1].Trigger.Cron.Expr != "@hourly" {
		t.Fatalf("list: %d %+v", st, list)
	}
	if st, _ := e.do(t, "GET", "/v1/triggers?function=other", "", &list); st != 200 || len(list.Triggers) != 0 {
		t.Fatalf("list of another function: %+v", list)
	}
	if st, _ := e.do(t, "DELETE", "/v1/triggers/nightly", "", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if _, err := kv.Get(context.Background(), cron.MemoryKey("nightly")); err == nil {
		t.Fatal("the cron memory of a deleted trigger is kept")
	}
	if st, ed := e.do(t, "DELETE", "/v1/triggers/nightly", "", nil); st != 404 || ed.Code != api.CodeTriggerNotFound {
		t.Fatalf("delete again: %d %+v", st, ed)
	}

	// Deleting the function deletes its triggers.
	if st, _ := e.do(t, "DELETE", "/v1/functions/job", "", nil); st != 204 {
		t.Fatalf("delete function: %d", st)
	}
	if st, _ := e.do(t, "GET", "/v1/triggers", "", &list); st != 200 || len(list.Triggers) != 0 {
		t.Fatalf("triggers of a deleted function: %+v", list)
	}
}
