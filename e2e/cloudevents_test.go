package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"sluice.dev/events/testkit"
)

// cePy prints what it got: the event's attributes from its context, and its data.
const cePy = `import json


def handler(event, context):
    ce = context.cloudevent
    print("got " + json.dumps({"type": ce.get("type"), "source": ce.get("source"), "subject": ce.get("subject"),
                               "sent": ce.get("sluiceeventid"), "data": event}, sort_keys=True))
    return "ok"
`

type ingested struct {
	Events []struct {
		ID          string `json:"id"`
		Invocations []struct {
			Function, Trigger, ID string
		} `json:"invocations"`
	} `json:"events"`
}

// CloudEvents posted by a plain HTTP client and by the CloudEvents SDK reach the function
// whose subscription they pass, as that function's context and event; others go nowhere.
func TestCloudEventsIn(t *testing.T) {
	t.Parallel() // waits mostly; runs beside the other parallel tests
	n := newSite(t).start(t)
	deployInline(t, n, "shipper", cePy)
	deployInline(t, n, "other", cePy)
	n.ok(t, "trigger", "add", "shipper", "--cloudevents", "--type", "com.shop.order.paid", "--source-prefix", "/shop/", "--id", "paid")
	n.ok(t, "trigger", "add", "other", "--cloudevents", "--type-suffix", ".refunded", "--id", "refunds")

	// A plain HTTP client, binary mode.
	r := n.request(t, "POST", "/v1/events", []byte(`{"order": 1}`), false, "Content-Type", "application/json",
		"ce-specversion", "1.0", "ce-id", "plain-1", "ce-source", "/shop/eu", "ce-type", "com.shop.order.paid", "ce-subject", "orders/1")
	var ans ingested
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &ans) != nil || len(ans.Events) != 1 || len(ans.Events[0].Invocations) != 1 ||
		ans.Events[0].Invocations[0].Function != "shipper" {
		t.Fatalf("POST /v1/events: %d %s", r.status, r.body)
	}
	if res := waitInvocation(t, n, ans.Events[0].Invocations[0].ID); res.Status != "succeeded" {
		t.Fatalf("invocation %+v", res)
	}

	// The CloudEvents SDK, structured and binary.
	c, err := cloudevents.NewClientHTTP(cehttp.WithTarget(n.URL+"/v1/events"), cehttp.WithHeader("Authorization", "Bearer "+n.Token))
	if err != nil {
		t.Fatal(err)
	}
	for i, ctx := range []context.Context{cloudevents.WithEncodingStructured(t.Context()), cloudevents.WithEncodingBinary(t.Context())} {
		ev := cloudevents.NewEvent()
		ev.SetID(fmt.Sprint("sdk-", i))
		ev.SetSource("/shop/us")
		ev.SetType("com.shop.order.paid")
		ev.SetSubject(fmt.Sprint("orders/", 10+i))
		if err := ev.SetData(cloudevents.ApplicationJSON, map[string]int{"order": 10 + i}); err != nil {
			t.Fatal(err)
		}
		if res := c.Send(ctx, ev); !cloudevents.IsACK(res) {
			t.Fatalf("SDK send %d: %v", i, res)
		}
	}
	// The CLI sends one too.
	r2 := n.ok(t, "events", "send", "--type", "com.shop.order.paid", "--source", "/shop/cli", "--subject", "orders/20", "--data", `{"order": 20}`, "--id", "cli-1")
	wantContains(t, "events send", r2.stdout, "event cli-1 -> shipper (trigger paid): invocation paid-")
	r2 = n.ok(t, "events", "send", "--type", "com.nobody")
	wantContains(t, "events send", r2.stdout, "passed no subscription")

	// Neither subscription takes this one; a bad one is refused.
	r = n.request(t, "POST", "/v1/events", []byte(`{}`), false, "ce-specversion", "1.0", "ce-id", "x", "ce-source", "/elsewhere",
		"ce-type", "com.shop.order.paid")
	if r.status != http.StatusAccepted || !strings.Contains(string(r.body), `"invocations":[]`) {
		t.Fatalf("unsubscribed event: %d %s", r.status, r.body)
	}
	if r = n.request(t, "POST", "/v1/events", []byte(`{}`), false, "ce-specversion", "1.0", "ce-type", "t"); r.status != http.StatusBadRequest {
		t.Fatalf("event without id: %d %s", r.status, r.body)
	}
	if r = n.request(t, "POST", "/v1/events", []byte(`{}`), true, "ce-specversion", "1.0", "ce-id", "y", "ce-source", "/shop/eu",
		"ce-type", "com.shop.order.paid"); r.status != http.StatusUnauthorized {
		t.Fatalf("event without the token: %d %s", r.status, r.body)
	}

	var logs string
	testkit.EventuallyEvery(t, asyncDeadline, 300*time.Millisecond, func() error {
		logs = n.ok(t, "logs", "shipper", "--since", "5m").stdout
		if strings.Count(logs, "got {") < 4 {
			return fmt.Errorf("%d events reached shipper:\n%s", strings.Count(logs, "got {"), logs)
		}
		return nil
	})
	for _, want := range []string{
		`got {"data": {"order": 1}, "sent": "plain-1", "source": "/shop/eu", "subject": "orders/1", "type": "com.shop.order.paid"}`,
		`got {"data": {"order": 10}, "sent": "sdk-0", "source": "/shop/us", "subject": "orders/10", "type": "com.shop.order.paid"}`,
		`got {"data": {"order": 11}, "sent": "sdk-1", "source": "/shop/us", "subject": "orders/11", "type": "com.shop.order.paid"}`,
		`got {"data": {"order": 20}, "sent": "cli-1", "source": "/shop/cli", "subject": "orders/20", "type": "com.shop.order.paid"}`,
	} {
		if !strings.Contains(logs, want) {
			t.Fatalf("no %s in:\n%s", want, logs)
		}
	}
	if logs := n.ok(t, "logs", "other", "--since", "5m").stdout; strings.Contains(logs, "got {") {
		t.Fatalf("an unsubscribed function ran:\n%s", logs)
	}
}
