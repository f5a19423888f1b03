package instance

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"sluice.dev/runtimes/internal/codetest"
)

func TestNodeCallbackHandlers(t *testing.T) {
	cat := newCatalog(t)
	fx := suite[1]
	i := start(t, cat, config(t, fx, "callback"))
	resp, err := i.Invoke(context.Background(), request(`{"a":1}`))
	if err != nil || resp.Error != nil || !codetest.JSONEqual(t, resp.Payload, []byte(`{"via":"callback","event":{"a":1}}`)) {
		t.Fatalf("callback: %v %+v %s", err, resp.Error, resp.Payload)
	}
	j := start(t, cat, config(t, fx, "callbackError"))
	resp, err = j.Invoke(context.Background(), request(`{}`))
	if err != nil || resp.Error == nil || resp.Error.Type != "RangeError" || resp.Error.Message != "bad range" {
		t.Fatalf("callback error: %v %+v", err, resp.Error)
	}
}

func TestNodeUncaughtExceptionFailsThenEnds(t *testing.T) {
	cat := newCatalog(t)
	i := start(t, cat, config(t, suite[1], "uncaught"))
	resp, err := i.Invoke(context.Background(), request(`{}`))
	if err != nil || resp.Error == nil || resp.Error.Message != "stray" {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	waitDone(t, i) // the worker replaces such an instance
	if _, err := i.Invoke(context.Background(), request(`{}`)); !errors.Is(err, ErrCrashed) {
		t.Fatalf("invoke after the exit: %v, want ErrCrashed", err)
	}
}

func TestNodeESModule(t *testing.T) {
	cat := newCatalog(t)
	cfg := config(t, suite[1], "x")
	cfg.CodeDir, cfg.Handler = testdata(t, "nodeesm"), "index.handler"
	i := start(t, cat, cfg)
	req := request(`"hi"`)
	resp, err := i.Invoke(context.Background(), req)
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke: %v %+v", err, resp.Error)
	}
	var got struct {
		ESM   bool   `json:"esm"`
		ID    string `json:"id"`
		Event string `json:"event"`
	}
	if err := json.Unmarshal(resp.Payload, &got); err != nil || !got.ESM || got.ID != req.ID || got.Event != "hi" {
		t.Fatalf("esm = %s (%v)", resp.Payload, err)
	}
}
