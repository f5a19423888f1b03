package codeurl_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/events/testkit"
	"sluice.dev/services/codeurl"
)

func TestParse(t *testing.T) {
	b, k, err := codeurl.Parse("s3://code/fns/hello.zip")
	if err != nil || b != "code" || k != "fns/hello.zip" {
		t.Fatalf("Parse = %q %q %v", b, k, err)
	}
	for _, bad := range []string{"http://x/y", "s3://", "s3://b", "s3://bucket", "s3://bucket/", "s3://Bucket/k", "s3://b_x/k"} {
		if _, _, err := codeurl.Parse(bad); !errors.Is(err, codeurl.ErrBadURL) {
			t.Errorf("Parse(%q) = %v, want ErrBadURL", bad, err)
		}
	}
}

func TestNew(t *testing.T) {
	s, err := codeurl.New(s3conf.Config{Endpoint: "https://store.example:9000"})
	if err != nil || s.Endpoint() != "https://store.example:9000" {
		t.Fatalf("New = %v, %v", s, err)
	}
	for _, cfg := range []s3conf.Config{
		{},
		{Endpoint: "ftp://x:1"},
		{Endpoint: "http://x:1/path"},
		{Endpoint: "x:1", AccessKey: "a"},
	} {
		if _, err := codeurl.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestFetchFromMinIO(t *testing.T) {
	srv := testkit.StartMinIO(t)
	srv.Put(t, "code", "fns/hello.zip", []byte("PK-zip-bytes"))
	ctx := context.Background()
	s, err := codeurl.New(s3conf.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Fetch(ctx, "s3://code/fns/hello.zip", 1<<20)
	if err != nil || string(b) != "PK-zip-bytes" {
		t.Fatalf("Fetch = %q, %v", b, err)
	}
	if _, err := s.Fetch(ctx, "s3://code/fns/hello.zip", 4); !errors.Is(err, codeurl.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := s.Fetch(ctx, "s3://code/missing.zip", 1<<20); !errors.Is(err, codeurl.ErrNoObject) || !strings.Contains(err.Error(), "no object s3://code/missing.zip") {
		t.Errorf("missing object: %v", err)
	}
	if _, err := s.Fetch(ctx, "s3://nobucket/x.zip", 1<<20); !errors.Is(err, codeurl.ErrNoObject) || !strings.Contains(err.Error(), "bucket nobucket does not exist") {
		t.Errorf("missing bucket: %v", err)
	}

	wrong, err := codeurl.New(s3conf.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: "wrong-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Fetch(ctx, "s3://code/fns/hello.zip", 1<<20); !errors.Is(err, codeurl.ErrDenied) || !strings.Contains(err.Error(), "SLUICE_S3_SECRET_KEY") {
		t.Errorf("wrong secret: %v", err)
	}
	anon, err := codeurl.New(s3conf.Config{Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Fetch(ctx, "s3://code/fns/hello.zip", 1<<20); !errors.Is(err, codeurl.ErrDenied) {
		t.Errorf("anonymous on a private bucket: %v", err)
	}
}

func TestFetchUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := codeurl.New(s3conf.Config{Endpoint: addr, AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Fetch(context.Background(), "s3://code/x.zip", 1<<20)
	if !errors.Is(err, codeurl.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable: %v", err)
	}
}
