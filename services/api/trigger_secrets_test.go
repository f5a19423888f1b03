package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"sluice.dev/adapters/queue"
	"sluice.dev/adapters/storage"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/registry"
)

// The secrets of the test's triggers: none may appear in any answer.
const (
	s3Secret   = "S3-secret-key-never-shown"
	amqpSecret = "amqp-password-never-shown"
	natsToken  = "nats-token-never-shown"
)

// rawDo sends a request and returns the status and the body as it came.
func rawDo(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func assertNoSecret(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range []string{s3Secret, amqpSecret, natsToken} {
		if strings.Contains(body, s) {
			t.Errorf("%s shows the secret %q: %s", what, s, body)
		}
	}
}

func TestTriggerSecretsNeverShown(t *testing.T) {
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
	a.TriggerRoutes(r, map[string]trigger.Factory{
		events.TriggerStorage: storage.NewFactory(storage.Config{State: kv}),
		events.TriggerQueue:   queue.New,
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{bus: bus, srv: srv}
	fn := `{"runtime":"python","handler":"main.handler","inline":{"file":"main.py","content":"def handler(e, c):\n    return 1\n"}}`
	if st, ed := e.do(t, "PUT", "/v1/functions/job", fn, nil); st != 201 {
		t.Fatalf("deploy: %d %+v", st, ed)
	}

	amqpURL := "amqp://guest:" + amqpSecret + "@127.0.0.1:5672/orders"
	natsURL := "nats://" + natsToken + "@127.0.0.1:4222/orders.new"
	for _, add := range []struct{ id, body string }{
		{"uploads", `{"id":"uploads","function":"job","kind":"storage","storage":{"bucket":"uploads","endpoint":"127.0.0.1:9000","accessKey":"sluice-ak","secretKey":"` + s3Secret + `"}}`},
		{"orders", `{"id":"orders","function":"job","kind":"queue","queue":{"url":"` + amqpURL + `"}}`},
		{"new-orders", `{"id":"new-orders","function":"job","kind":"queue","queue":{"url":"` + natsURL + `"}}`},
	} {
		st, body := rawDo(t, srv, "POST", "/v1/triggers", add.body)
		if st != 201 || !strings.Contains(body, `"secretSet":true`) {
			t.Fatalf("add %s: %d %s", add.id, st, body)
		}
		assertNoSecret(t, "POST "+add.id, body)
	}
	// An adapter reports an error quoting its URL whole.
	status, _ := json.Marshal(events.TriggerStatus{ID: "orders", State: events.StateRetrying, LastError: "dial " + amqpURL + ": refused"})
	if _, err := kv.Put(t.Context(), events.TriggerStatusKey("orders"), status); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/v1/triggers", "/v1/triggers?function=job", "/v1/triggers/uploads", "/v1/triggers/orders", "/v1/triggers/new-orders"} {
		st, body := rawDo(t, srv, "GET", path, "")
		if st != 200 || !strings.Contains(body, `"secretSet":true`) {
			t.Fatalf("GET %s: %d %s", path, st, body)
		}
		assertNoSecret(t, "GET "+path, body)
	}
	var view wire.TriggerView
	if st, ed := e.do(t, "GET", "/v1/triggers/orders", "", &view); st != 200 || view.Trigger.Queue.URL != "amqp://guest:***@127.0.0.1:5672/orders" ||
		view.Status == nil || view.Status.LastError != "dial amqp://guest:***@127.0.0.1:5672/orders: refused" {
		t.Fatalf("GET orders: %d %+v %+v", st, ed, view)
	}
	if st, ed := e.do(t, "GET", "/v1/triggers/uploads", "", &view); st != 200 || view.Trigger.Storage.SecretKey != "" || view.Trigger.Storage.AccessKey != "sluice-ak" || !view.Trigger.Storage.SecretSet {
		t.Fatalf("GET uploads: %d %+v %+v", st, ed, view.Trigger.Storage)
	}

	// The stored specs keep the secrets, and the adapters made from them get them.
	stored := func(id string) events.Trigger {
		t.Helper()
		e, err := kv.Get(t.Context(), events.TriggerKey(id))
		if err != nil {
			t.Fatal(err)
		}
		var tr events.Trigger
		if err := json.Unmarshal(e.Value(), &tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	if s := stored("uploads"); s.Storage.SecretKey != s3Secret || s.Storage.SecretSet {
		t.Fatalf("stored storage spec: %+v", s.Storage)
	}
	if q := stored("orders"); q.Queue.URL != amqpURL || q.Queue.SecretSet {
		t.Fatalf("stored queue spec: %+v", q.Queue)
	}
	if q := stored("new-orders"); q.Queue.URL != natsURL {
		t.Fatalf("stored queue spec: %+v", q.Queue)
	}

	// A spec sent back as it was shown, changed elsewhere, keeps the stored secrets.
	for _, id := range []string{"uploads", "orders", "new-orders"} {
		view = wire.TriggerView{}
		if st, ed := e.do(t, "GET", "/v1/triggers/"+id, "", &view); st != 200 {
			t.Fatalf("GET %s: %d %+v", id, st, ed)
		}
		shown := view.Trigger
		if shown.Storage != nil {
			shown.Storage.Prefix = "in/"
		} else {
			shown.Queue.MaxInFlight = 4
		}
		b, _ := json.Marshal(shown)
		st, body := rawDo(t, srv, "POST", "/v1/triggers", string(b))
		if st != 200 {
			t.Fatalf("replace %s as shown: %d %s", id, st, body)
		}
		assertNoSecret(t, "replace "+id, body)
	}
	if s := stored("uploads"); s.Storage.SecretKey != s3Secret || s.Storage.Prefix != "in/" {
		t.Fatalf("replaced storage spec: %+v", s.Storage)
	}
	if q := stored("orders"); q.Queue.URL != amqpURL || q.Queue.MaxInFlight != 4 {
		t.Fatalf("replaced queue spec: %+v", q.Queue)
	}
	if q := stored("new-orders"); q.Queue.URL != natsURL || q.Queue.MaxInFlight != 4 {
		t.Fatalf("replaced queue spec: %+v", q.Queue)
	}
	if _, err := queue.New(stored("orders")); err != nil {
		t.Fatalf("the adapter cannot be made from the stored spec: %v", err)
	}

	// Errors do not show secrets either; a marker with nothing to keep is refused.
	for name, body := range map[string]string{
		"no queue name": `{"function":"job","kind":"queue","queue":{"url":"amqp://guest:` + amqpSecret + `@127.0.0.1:5672/"}}`,
		"bad port":      `{"function":"job","kind":"queue","queue":{"url":"amqp://guest:` + amqpSecret + `@127.0.0.1:x/q"}}`,
		"password cut":  `{"function":"job","kind":"queue","queue":{"url":"amqp://guest:12/` + amqpSecret + `@127.0.0.1/q"}}`,
		"marker":        `{"id":"fresh","function":"job","kind":"queue","queue":{"url":"amqp://guest:***@127.0.0.1:5672/q"}}`,
		"bad endpoint":  `{"function":"job","kind":"storage","storage":{"bucket":"b","endpoint":"ftp://u:` + s3Secret + `@h:1","accessKey":"a","secretKey":"` + s3Secret + `"}}`,
	} {
		st, body := rawDo(t, srv, "POST", "/v1/triggers", body)
		if st != 400 {
			t.Errorf("%s: %d %s", name, st, body)
		}
		assertNoSecret(t, name, body)
	}
}
