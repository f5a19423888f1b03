package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
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
func (c *Client) Metrics(ctx context.Context, name string, since, step time.Duration) (wire.MetricsView, error) {
	q := url.Values{}
	period(q, since)
	if step > 0 {
		q.Set("step", step.String())
	}
	var v wire.MetricsView
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

// DeadLetterPage returns up to limit (0: the server's default page) dead-lettered events of the
// function after sequence after, oldest first; its Next, when not 0, is the after of the next
// page.
func (c *Client) DeadLetterPage(ctx context.Context, name string, after uint64, limit int) (wire.DeadLetters, error) {
	var out wire.DeadLetters
	err := c.do(ctx, http.MethodGet, withQuery(fnPath(name, "/dlq"), pageQuery(after, 0, limit)), nil, &out)
	return out, err
}

// DeadLetters returns every dead-lettered event of the function, oldest first, following the
// pages.
func (c *Client) DeadLetters(ctx context.Context, name string) ([]events.DeadLetter, error) {
	var all []events.DeadLetter
	err := c.EachDeadLetterPage(ctx, name, func(p wire.DeadLetters) error {
		all = append(all, p.Events...)
		return nil
	})
	return all, err
}

// EachDeadLetterPage calls f with each page of the function's dead letters, oldest first.
func (c *Client) EachDeadLetterPage(ctx context.Context, name string, f func(wire.DeadLetters) error) error {
	var after uint64
	for {
		p, err := c.DeadLetterPage(ctx, name, after, wire.DLQPageMax)
		if err != nil {
			return err
		}
		if err := f(p); err != nil {
			return err
		}
		if p.Next == 0 {
			return nil
		}
		after = p.Next
	}
}

func pageQuery(after, through uint64, limit int) url.Values {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if through > 0 {
		q.Set("through", strconv.FormatUint(through, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// DeadLetter returns one dead-lettered event with its attributes and data.
func (c *Client) DeadLetter(ctx context.Context, name string, seq uint64) (events.DeadLetter, error) {
	var d events.DeadLetter
	err := c.do(ctx, http.MethodGet, fnPath(name, "/dlq/", strconv.FormatUint(seq, 10)), nil, &d)
	return d, err
}

// Redrive sends dead-lettered events back to the function: those of seqs, or, when none, every
// one there is when it starts, a page at a time (events that fail again meanwhile stay for the
// next redrive). The answer lists them all.
func (c *Client) Redrive(ctx context.Context, name string, seqs ...uint64) (wire.Redriven, error) {
	if len(seqs) > 0 {
		q := url.Values{}
		parts := make([]string, len(seqs))
		for i, s := range seqs {
			parts[i] = strconv.FormatUint(s, 10)
		}
		q.Set("seq", strings.Join(parts, ","))
		var out wire.Redriven
		err := c.do(ctx, http.MethodPost, withQuery(fnPath(name, "/dlq/redrive"), q), nil, &out)
		return out, err
	}
	all := wire.Redriven{Function: name, Redriven: []wire.RedrivenEvent{}}
	var after, through uint64
	for {
		var p wire.Redriven
		if err := c.do(ctx, http.MethodPost, withQuery(fnPath(name, "/dlq/redrive"), pageQuery(after, through, wire.DLQPageMax)), nil, &p); err != nil {
			return all, err
		}
		all.Redriven = append(all.Redriven, p.Redriven...)
		if p.Next == 0 {
			return all, nil
		}
		after, through = p.Next, p.Through
	}
}

// PurgeDeadLetters removes every dead-lettered event of the function.
func (c *Client) PurgeDeadLetters(ctx context.Context, name string) (wire.Purged, error) {
	var out wire.Purged
	err := c.do(ctx, http.MethodDelete, fnPath(name, "/dlq"), nil, &out)
	return out, err
}
