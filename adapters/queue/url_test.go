package queue

import (
	"errors"
	"strings"
	"testing"

	"sluice.dev/events"
)

func TestParseURL(t *testing.T) {
	good := []struct{ url, scheme, server, target, public string }{
		{"nats://127.0.0.1:4222/orders.created", "nats", "nats://127.0.0.1:4222", "orders.created", "nats://127.0.0.1:4222/orders.created"},
		{"nats://u:p@broker/orders.*", "nats", "nats://u:p@broker:4222", "orders.*", "nats://broker:4222/orders.*"},
		{"nats://broker:4000/orders.>", "nats", "nats://broker:4000", "orders.>", "nats://broker:4000/orders.>"},
		{"jetstream://h:4222/ORDERS", "jetstream", "nats://h:4222", "ORDERS", "jetstream://h:4222/ORDERS"},
		{"amqp://guest:secret@h:5672/jobs", "amqp", "amqp://guest:secret@h:5672/", "jobs", "amqp://h:5672/jobs"},
		{"amqp://guest:secret@h/a%2Fb", "amqp", "amqp://guest:secret@h:5672/", "a/b", "amqp://h:5672/a%2Fb"},
	}
	for _, c := range good {
		s, err := parseURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if s.scheme != c.scheme || s.server != c.server || s.target != c.target || s.public != c.public {
			t.Errorf("%s: got %+v", c.url, s)
		}
	}
	bad := map[string]string{
		"kafka://h:9092/t":            "scheme",
		"nats:///orders":              "no host",
		"nats://h:4222":               "no subject",
		"nats://h:4222/":              "no subject",
		"nats://h/orders..x":          "empty token",
		"nats://h/a.>.b":              "last token",
		"nats://h/a/b":                "'/'",
		"nats://h/ab*":                "whole tokens",
		"jetstream://h/ORD.ERS":       "stream name",
		"jetstream://h/":              "no stream",
		"amqp://h:5672/jobs":          "USER:PASS",
		"amqp://u:p@h:5672/":          "no queue",
		"nats://h/orders?x=1":         "query",
		"amqp://u:hunter2@h/q?vhost=": "query",
		"orders":                      "no host",
	}
	for url, want := range bad {
		_, err := parseURL(url)
		if !errors.Is(err, events.ErrInvalidTrigger) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an invalid trigger saying %q", url, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", url, err)
		}
	}
}

func TestNewRefusesBadSpecs(t *testing.T) {
	spec := func(q events.QueueSpec) events.Trigger {
		return events.Trigger{ID: "t1", Function: "fn", Kind: events.TriggerQueue, Queue: &q}
	}
	for _, s := range []events.Trigger{
		spec(events.QueueSpec{URL: "redis://h/q"}),
		spec(events.QueueSpec{URL: "nats://h/q", Batch: -1}),
		spec(events.QueueSpec{URL: "nats://h/q", MaxInFlight: 1 << 20}),
		{ID: "t1", Function: "fn", Kind: events.TriggerCron, Cron: &events.CronSpec{Expr: "@hourly"}},
		{Function: "fn", Kind: events.TriggerQueue, Queue: &events.QueueSpec{URL: "nats://h/q"}},
	} {
		if _, err := New(s); !errors.Is(err, events.ErrInvalidTrigger) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if _, err := New(spec(events.QueueSpec{URL: "jetstream://127.0.0.1:1/S"})); err != nil {
		t.Fatal(err)
	}
}

func TestGroupName(t *testing.T) {
	if g := groupName("a.b*c>d e/f"); g != "sluice-a_b_c_d_e_f" {
		t.Fatal(g)
	}
}
