package access_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/gorilla/mux"

	"sluice.dev/events/bustest"
	"sluice.dev/services/access"
	"sluice.dev/services/keys"
)

const token = "node-token"

// server serves two routes behind a guard: one that invokes {name}, one that is the admin's.
func server(t *testing.T) (*httptest.Server, *keys.Store) {
	t.Helper()
	bus := bustest.Start(t)
	store, err := keys.Open(context.Background(), bus.JS, token)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	ok := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(access.CallerOf(r.Context()).ID))
	}
	r.HandleFunc("/fn/{name}", ok).Methods(http.MethodPost)
	r.HandleFunc("/node", ok).Methods(http.MethodGet)
	r.Use(access.New(token, store).Protect("lambda", access.Routes{
		"POST /fn/{name}": {Action: keys.Invoke, Function: "name"},
	}, access.DenyJSON))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, store
}

func TestRoutesTakeTheirCallers(t *testing.T) {
	srv, store := server(t)
	k, err := store.Create(context.Background(), keys.ScopeInvoke, "orders-*")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, bearer string) int {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, bearer string
		want                 int
	}{
		{"POST", "/fn/orders-api", token, 200},
		{"GET", "/node", token, 200},
		{"POST", "/fn/orders-api", k.Token(), 200},
		{"POST", "/fn/billing", k.Token(), 403},
		{"GET", "/node", k.Token(), 403}, // in no table: the admin's
		{"POST", "/fn/orders-api", "", 401},
		{"POST", "/fn/orders-api", k.ID + ".wrong", 401},
	} {
		if got := call(c.method, c.path, c.bearer); got != c.want {
			t.Errorf("%s %s with %q: %d, want %d", c.method, c.path, c.bearer, got, c.want)
		}
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read *int
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.read += n
	return n, err
}

func (c countingBody) Close() error { return nil }

// TestSignedRequestsOfUnknownKeysAreRefusedUnread: a signature naming no key is refused before
// its body is read, so nobody without a key makes the server hold a large body; a key's
// signature is checked over the body and let through.
func TestSignedRequestsOfUnknownKeysAreRefusedUnread(t *testing.T) {
	srv, store := server(t)
	k, err := store.Create(context.Background(), keys.ScopeInvoke, "")
	if err != nil {
		t.Fatal(err)
	}
	send := func(id, secret string, body []byte) (status, read int) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/fn/orders-api", nil)
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req.Body, req.ContentLength = countingBody{r: bytes.NewReader(body), read: &read}, int64(len(body))
		req.RequestURI = ""
		// Served in process, to count what the guard reads.
		srv.Config.Handler.ServeHTTP(rec, req)
		return rec.Code, read
	}
	big := bytes.Repeat([]byte("x"), 4<<20)
	if status, read := send("SKUNKNOWNUNKNOWNUNKN", "s", big); status != 401 || read != 0 {
		t.Fatalf("an unknown key: status %d after reading %d bytes, want 401 and none read", status, read)
	}
	if status, _ := send(k.ID, "guess", []byte(`{}`)); status != 401 {
		t.Fatalf("a key with a wrong secret: %d", status)
	}
	if status, read := send(k.ID, k.Secret, []byte(`{"a":1}`)); status != 200 || read != 7 {
		t.Fatalf("a key's signature: %d, %d bytes read", status, read)
	}
	if status, _ := send(keys.AdminKeyID(token), token, []byte(`{}`)); status != 200 {
		t.Fatalf("the admin key's signature: %d", status)
	}
}
