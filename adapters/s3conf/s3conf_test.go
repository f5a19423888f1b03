package s3conf_test

import (
	"errors"
	"testing"

	"sluice.dev/adapters/s3conf"
)

func TestHost(t *testing.T) {
	for _, c := range []struct {
		cfg    s3conf.Config
		host   string
		secure bool
	}{
		{s3conf.Config{}, "", false},
		{s3conf.Config{Endpoint: "minio:9000"}, "minio:9000", false},
		{s3conf.Config{Endpoint: "minio:9000", Secure: true}, "minio:9000", true},
		{s3conf.Config{Endpoint: "https://store.example:9000/"}, "store.example:9000", true},
		{s3conf.Config{Endpoint: "http://store.example:9000", Secure: true}, "store.example:9000", false},
	} {
		host, secure, err := c.cfg.Host()
		if err != nil || host != c.host || secure != c.secure {
			t.Errorf("Host(%+v) = %q %v %v, want %q %v", c.cfg, host, secure, err, c.host, c.secure)
		}
	}
	for _, bad := range []string{"ftp://x:1", "http://x:1/path", "http://", "://x"} {
		if _, _, err := (s3conf.Config{Endpoint: bad}).Host(); !errors.Is(err, s3conf.ErrBadEndpoint) {
			t.Errorf("Host(%q) = %v, want ErrBadEndpoint", bad, err)
		}
	}
}
