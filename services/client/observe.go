package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/api"
	"sluice.dev/services/billing"
)

// period renders a look-back duration for the API's since parameter; 0 is the server's default.
func period(q url.Values, since time.Duration) {
	if since > 0 {
		q.Set("since", since.String())
	}
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Metrics returns a function's invocation summary and series over the last since (0: the
// server's default, 15 minutes) in buckets of step (0: chosen by the server).
func (c *Client) Metrics(ctx context.Context, name string, since, step time.Duration) (api.MetricsView, error) {
	q := url.Values{}
	period(q, since)
	if step > 0 {
		q.Set("step", step.String())
	}
	var v api.MetricsView
	err := c.do(ctx, http.MethodGet, withQuery(fnPath(name, "/metrics"), q), nil, &v)
	return v, err
}

// Bill returns the bill of the last since (0: the server's default, 30 days).
func (c *Client) Bill(ctx context.Context, since time.Duration) (billing.Bill, error) {
	q := url.Values{}
	period(q, since)
	var b billing.Bill
	err := c.do(ctx, http.MethodGet, withQuery("/v1/billing", q), nil, &b)
	return b, err
}

// DeadLetters lists a function's dead-lettered events, oldest first.
func (c *Client) DeadLetters(ctx context.Context, name string) ([]events.DeadLetter, error) {
	var out api.DeadLetters
	err := c.do(ctx, http.MethodGet, fnPath(name, "/dlq"), nil, &out)
	return out.Events, err
}

// DeadLetter returns one dead-lettered event with its attributes and data.
func (c *Client) DeadLetter(ctx context.Context, name string, seq uint64) (events.DeadLetter, error) {
	var d events.DeadLetter
	err := c.do(ctx, http.MethodGet, fnPath(name, "/dlq/", strconv.FormatUint(seq, 10)), nil, &d)
	return d, err
}

// Redrive sends dead-lettered events back to the function: those of seqs, or all when none.
func (c *Client) Redrive(ctx context.Context, name string, seqs ...uint64) (api.Redriven, error) {
	q := url.Values{}
	if len(seqs) > 0 {
		parts := make([]string, len(seqs))
		for i, s := range seqs {
			parts[i] = strconv.FormatUint(s, 10)
		}
		q.Set("seq", strings.Join(parts, ","))
	}
	var out api.Redriven
	err := c.do(ctx, http.MethodPost, withQuery(fnPath(name, "/dlq/redrive"), q), nil, &out)
	return out, err
}

// PurgeDeadLetters removes every dead-lettered event of the function.
func (c *Client) PurgeDeadLetters(ctx context.Context, name string) (api.Purged, error) {
	var out api.Purged
	err := c.do(ctx, http.MethodDelete, fnPath(name, "/dlq"), nil, &out)
	return out, err
}
