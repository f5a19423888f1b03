package route

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewEvent(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://h/fn/echo/a/b?x=1&x=2&y=3", strings.NewReader("hi"))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("Authorization", "Bearer secret")
	r.Header.Add("Cookie", "a=1; b=2")
	r.Header.Add("X-Many", "1")
	r.Header.Add("X-Many", "2")
	ev := NewEvent(r, "/a/b", []byte("hi"), "req", time.Unix(1700000000, 0))
	if ev.Version != "2.0" || ev.RawPath != "/a/b" || ev.RequestContext.HTTP.Method != "POST" || ev.RawQueryString != "x=1&x=2&y=3" {
		t.Fatalf("event = %+v", ev)
	}
	if ev.QueryStringParameters["x"] != "1,2" || ev.QueryStringParameters["y"] != "3" {
		t.Fatalf("query = %v", ev.QueryStringParameters)
	}
	if ev.Headers["x-many"] != "1,2" || ev.Headers["content-type"] != "text/plain" {
		t.Fatalf("headers = %v", ev.Headers)
	}
	if _, ok := ev.Headers["authorization"]; ok {
		t.Fatal("the platform token leaked into the event")
	}
	if len(ev.Cookies) != 2 || ev.Cookies[1] != "b=2" {
		t.Fatalf("cookies = %v", ev.Cookies)
	}
	if ev.Body != "hi" || ev.IsBase64Encoded {
		t.Fatalf("body = %q base64=%v", ev.Body, ev.IsBase64Encoded)
	}

	bin := []byte{0xff, 0x00, 0x01}
	r = httptest.NewRequest(http.MethodPut, "http://h/fn/echo", nil)
	r.Header.Set("Content-Type", "application/octet-stream")
	ev = NewEvent(r, "/", bin, "req", time.Now())
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(bin) {
		t.Fatalf("binary body = %q base64=%v", ev.Body, ev.IsBase64Encoded)
	}
}
