package cli

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/services/codeurl"
)

func TestS3Options(t *testing.T) {
	s := newSite(t)
	roles := newFakeRoles(s)
	s.env["SLUICE_S3_ENDPOINT"] = "127.0.0.1:9000"
	s.env["SLUICE_S3_ACCESS_KEY"] = "ak"
	s.env["SLUICE_S3_SECRET_KEY"] = "sk"
	s.env["SLUICE_S3_SECURE"] = "true"
	s.env["SLUICE_S3_REGION"] = "eu-west-1"
	if r := s.runIn(t.Context(), "", roles, "up", "--no-worker"); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	if want := (s3conf.Config{Endpoint: "127.0.0.1:9000", AccessKey: "ak", SecretKey: "sk", Secure: true, Region: "eu-west-1"}); roles.up.S3 != want {
		t.Fatalf("up S3 from the environment = %+v", roles.up.S3)
	}
	if r := s.runIn(t.Context(), "", roles, "up", "--no-worker", "--s3-endpoint", "minio:9000", "--s3-secure", "false", "--s3-region", "us-west-2"); r.code != 0 ||
		roles.up.S3.Endpoint != "minio:9000" || roles.up.S3.Secure || roles.up.S3.Region != "us-west-2" {
		t.Fatalf("up S3 flags: %s %+v", r, roles.up.S3)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "gateway", "--nats", "nats://x", "--s3-access-key", "other"); r.code != 0 ||
		roles.serve.S3.AccessKey != "other" || roles.serve.S3.SecretKey != "sk" || roles.serve.S3.Region != "eu-west-1" {
		t.Fatalf("serve S3: %s %+v", r, roles.serve.S3)
	}
	s.env["SLUICE_S3_SECURE"] = "yes please"
	if r := s.runIn(t.Context(), "", roles, "up", "--no-worker"); r.code != 2 || !strings.Contains(r.stderr, "SLUICE_S3_SECURE") {
		t.Fatalf("bad SLUICE_S3_SECURE: %s", r)
	}
	delete(s.env, "SLUICE_S3_SECURE")
	delete(s.env, "SLUICE_S3_ENDPOINT")
	if r := s.runIn(t.Context(), "", roles, "up", "--no-worker"); r.code != 2 || !strings.Contains(r.stderr, "no endpoint") {
		t.Fatalf("keys without endpoint: %s", r)
	}
}

// The region given to up or serve reaches the code-URL fetcher: its requests are signed for it.
func TestS3RegionReachesCodeURL(t *testing.T) {
	var (
		mu     sync.Mutex
		scopes []string // credential scopes of the requests the store saw
	)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scopes = append(scopes, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>`)
	}))
	defer store.Close()

	s := newSite(t)
	roles := newFakeRoles(s)
	s.env["SLUICE_S3_REGION"] = "eu-west-1"
	for _, c := range []struct {
		args   []string
		region string
	}{
		{[]string{"up", "--no-worker", "--s3-region", "ap-south-2"}, "ap-south-2"},
		{[]string{"serve", "gateway", "--nats", "nats://x"}, "eu-west-1"},
	} {
		args := append(c.args, "--s3-endpoint", store.URL, "--s3-access-key", "ak", "--s3-secret-key", "sk")
		if r := s.runIn(t.Context(), "", roles, args...); r.code != 0 {
			t.Fatalf("%v: %s", c.args, r)
		}
		cfg := roles.up.S3
		if c.args[0] == "serve" {
			cfg = roles.serve.S3
		}
		fetcher, err := codeurl.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		scopes = nil
		mu.Unlock()
		if _, err := fetcher.Fetch(t.Context(), "s3://code/f.zip", 1<<20); !errors.Is(err, codeurl.ErrNoObject) {
			t.Fatalf("%v: fetch = %v, want ErrNoObject", c.args, err)
		}
		mu.Lock()
		seen := scopes
		mu.Unlock()
		if len(seen) == 0 {
			t.Fatalf("%v: the store saw no request", c.args)
		}
		for _, a := range seen {
			if !strings.Contains(a, "/"+c.region+"/s3/aws4_request") {
				t.Errorf("%v: request signed as %q, want region %s", c.args, a, c.region)
			}
		}
	}
}
