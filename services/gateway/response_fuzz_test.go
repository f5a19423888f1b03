package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

// FuzzHTTPResponse reads any function result as the answer of a function URL and writes it the
// way the gateway does: the status is a valid one, and what reaches the client carries the
// sandbox policy and nosniff and none of the headers that set state for the whole origin,
// however the function spells them.
func FuzzHTTPResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, result []byte) {
		resp := NewHTTPResponse(result)
		if resp.Status < 100 || resp.Status > 599 || resp.Headers == nil {
			t.Fatalf("answer %d %v", resp.Status, resp.Headers)
		}
		if resp.Status == http.StatusOK && resp.Headers.Get("Content-Type") == "application/json" && len(resp.Headers) == 1 &&
			!bytes.Equal(resp.Body, result) && !json.Valid(result) {
			t.Fatalf("a plain result %q became %q", result, resp.Body)
		}
		rec := httptest.NewRecorder()
		w := &isolatedWriter{ResponseWriter: rec}
		for k, vs := range resp.Headers { // as answerHTTP copies them
			w.Header()[k] = vs
		}
		w.WriteHeader(max(resp.Status, 200))
		_, _ = w.Write(resp.Body)
		// Written as net/http writes a header: names that are not tokens are dropped.
		var buf bytes.Buffer
		if err := rec.Result().Header.Write(&buf); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("\r\n")
		sent, err := textproto.NewReader(bufio.NewReader(&buf)).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("the header does not read back: %v\n%q", err, buf.Bytes())
		}
		for k := range sent {
			for _, dropped := range droppedHeaders {
				if strings.EqualFold(k, dropped) {
					t.Fatalf("%s %q reached the client", k, sent[k])
				}
			}
		}
		if !slices.Contains(sent.Values("Content-Security-Policy"), FunctionSandbox) {
			t.Fatalf("Content-Security-Policy %q", sent.Values("Content-Security-Policy"))
		}
		if got := sent.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Fatalf("X-Content-Type-Options %q", got)
		}
	})
}
