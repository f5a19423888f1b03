package gateway

import (
	"net/http"
	"testing"
)

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
