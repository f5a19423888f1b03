package route

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sluice.dev/events"
)

// FuzzHTTPEvent reads any request with the server's own parser and maps it to event data: the
// data encodes, keeps the body exactly (as text when it is, else base64), never carries the
// Authorization header, and lists cookies and headers in the shape of a function URL event.
func FuzzHTTPEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		ev := NewEvent(r, "/"+strings.TrimPrefix(r.URL.Path, "/"), body, "id", time.Unix(1700000000, 0))
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("the event does not encode: %v", err)
		}
		var back Event
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("the event does not decode: %v", err)
		}
		got := []byte(back.Body)
		if back.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(back.Body); err != nil {
				t.Fatalf("base64 body %q: %v", back.Body, err)
			}
		} else if !utf8.Valid(body) {
			t.Fatalf("a body that is not UTF-8 went as text: %q", body)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("body %q came back as %q", body, got)
		}
		for k := range ev.Headers {
			if k != strings.ToLower(k) || k == "authorization" || k == "cookie" {
				t.Fatalf("header %q in the event", k)
			}
		}
		if auth := r.Header.Get("Authorization"); len(auth) >= 8 && bytes.Contains(data, []byte(auth)) && !bytes.Contains(raw[bytes.Index(raw, []byte(auth))+1:], []byte(auth)) {
			t.Fatalf("the Authorization header %q is in the event", auth)
		}
		for _, c := range ev.Cookies {
			if c == "" || c != strings.TrimSpace(c) || strings.Contains(c, ";") {
				t.Fatalf("cookie %q", c)
			}
		}
		if q := r.URL.Query(); len(q) != len(ev.QueryStringParameters) {
			t.Fatalf("query %v became %v", q, ev.QueryStringParameters)
		}
	})
}

// FuzzRoute compiles HTTP route paths and matches request paths against them: a refused path is
// ErrInvalidTrigger; matching never fails on any path; a match names exactly the route's
// parameters; and a path made from the route with a value in every parameter matches with that
// value.
func FuzzRoute(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern, path, value string) {
		rt, err := Compile(events.Trigger{ID: "r", Function: "f", Kind: events.TriggerHTTP, HTTP: &events.HTTPSpec{Path: pattern}})
		if err != nil {
			if !errors.Is(err, events.ErrInvalidTrigger) {
				t.Fatalf("error %v is not ErrInvalidTrigger", err)
			}
			return
		}
		var names []string
		made := ""
		for _, s := range rt.segs {
			name, isParam := strings.CutPrefix(s, "{")
			if !isParam {
				made += "/" + s
				continue
			}
			name = strings.TrimSuffix(name, "}")
			if greedy, ok := strings.CutSuffix(name, "+"); ok {
				name = greedy
				made += "/" + url.PathEscape(value)
			} else {
				made += "/" + url.PathEscape(value)
			}
			names = append(names, name)
		}
		if params, ok := rt.match(path); ok {
			if len(params) != len(names) {
				t.Fatalf("route %q matched %q with %v, its parameters are %v", pattern, path, params, names)
			}
			for _, n := range names {
				if _, ok := params[n]; !ok {
					t.Fatalf("route %q matched %q without %s: %v", pattern, path, n, params)
				}
			}
		}
		if value == "" || made == "" {
			return
		}
		params, ok := rt.match(made)
		if !ok {
			t.Fatalf("route %q does not match %q", pattern, made)
		}
		for _, n := range names {
			if v := params[n]; v != value && v != url.PathEscape(value) {
				t.Fatalf("route %q on %q: %s = %q, want %q", pattern, made, n, v, value)
			}
		}
	})
}
