package gateway

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewHTTPEvent(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://h/fn/echo/a/b?x=1&x=2&y=3", strings.NewReader("hi"))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("Authorization", "Bearer secret")
	r.Header.Add("Cookie", "a=1; b=2")
	r.Header.Add("X-Many", "1")
	r.Header.Add("X-Many", "2")
	ev := NewHTTPEvent(r, "/a/b", []byte("hi"), "req", time.Unix(1700000000, 0))
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
	ev = NewHTTPEvent(r, "/", bin, "req", time.Now())
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(bin) {
		t.Fatalf("binary body = %q base64=%v", ev.Body, ev.IsBase64Encoded)
	}
}

func TestNewHTTPResponse(t *testing.T) {
	r := NewHTTPResponse([]byte(`{"statusCode":201,"headers":{"X-A":"b","X-N":3},"cookies":["c=1"],"body":"made"}`))
	if r.Status != 201 || string(r.Body) != "made" || r.Headers.Get("X-A") != "b" || r.Headers.Get("X-N") != "3" || r.Headers.Get("Set-Cookie") != "c=1" {
		t.Fatalf("shaped = %+v", r)
	}
	r = NewHTTPResponse([]byte(`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`))
	if string(r.Body) != "hi" {
		t.Fatalf("base64 body = %q", r.Body)
	}
	r = NewHTTPResponse([]byte(`{"statusCode":200,"body":"***","isBase64Encoded":true}`))
	if r.Status != http.StatusBadGateway {
		t.Fatalf("bad base64 status = %d", r.Status)
	}
	r = NewHTTPResponse([]byte(`{"statusCode":42}`))
	if r.Status != http.StatusBadGateway {
		t.Fatalf("bad statusCode status = %d", r.Status)
	}
	r = NewHTTPResponse([]byte(`{"hello":"world"}`))
	if r.Status != 200 || string(r.Body) != `{"hello":"world"}` || r.Headers.Get("Content-Type") != "application/json" {
		t.Fatalf("plain JSON = %+v", r)
	}
	r = NewHTTPResponse([]byte(`null`))
	if r.Status != 200 || len(r.Body) != 0 {
		t.Fatalf("null = %+v", r)
	}
}
