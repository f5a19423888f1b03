package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cloudevents/sdk-go/v2/event"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

// AddTrigger stores a trigger spec (a new one, or a replacement of the same id) and returns it
// as stored.
func (c *Client) AddTrigger(ctx context.Context, t events.Trigger) (events.Trigger, error) {
	var out events.Trigger
	err := c.do(ctx, http.MethodPost, "/v1/triggers", t, &out)
	return out, err
}

// Triggers returns the triggers of a function (every trigger when function is ""), with their
// status.
func (c *Client) Triggers(ctx context.Context, function string) ([]wire.TriggerView, error) {
	path := "/v1/triggers"
	if function != "" {
		path += "?function=" + url.QueryEscape(function)
	}
	var out wire.TriggerList
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Triggers, err
}

// DeleteTrigger removes a trigger.
func (c *Client) DeleteTrigger(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/triggers/"+url.PathEscape(id), nil, nil)
}

// SendEvent sends a CloudEvent to the node (POST /v1/events, structured mode) and returns the
// invocations it became, one for each subscription it passed.
func (c *Client) SendEvent(ctx context.Context, ev event.Event) (wire.Ingested, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return wire.Ingested{}, fmt.Errorf("encode event: %w", err)
	}
	resp, err := c.request(ctx, http.MethodPost, "/v1/events", bytes.NewReader(b), "application/cloudevents+json")
	if err != nil {
		return wire.Ingested{}, err
	}
	defer resp.Body.Close()
	var out wire.Ingested
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("send event: decode answer: %w", err)
	}
	return out, nil
}
