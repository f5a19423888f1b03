// Package s3conf is the one definition of an S3 connection (MinIO, AWS S3 or any S3-compatible
// store): the node's object storage, which the CLI fills from its --s3-* flags and SLUICE_S3_*
// variables (docs/design.md §8) and hands to the code-URL fetcher and the storage trigger, and a
// storage trigger's own connection.
package s3conf

import (
	"errors"
	"net/url"
	"strings"
)

// ErrBadEndpoint is an Endpoint that is neither host:port nor http(s)://host:port.
var ErrBadEndpoint = errors.New("use host:port, http://host:port or https://host:port")

// Config is an S3 connection. The zero value has no endpoint: no object storage.
type Config struct {
	Endpoint  string // host:port, or http(s)://host:port whose scheme decides Secure
	AccessKey string // with SecretKey; both empty: anonymous access
	SecretKey string
	Secure    bool   // TLS, for an Endpoint without a scheme
	Region    string // "" asks the store
}

// Host is the endpoint's host:port and whether to reach it with TLS: a URL's scheme decides,
// else Secure. An empty Endpoint is an empty host; a malformed one is ErrBadEndpoint.
func (c Config) Host() (host string, secure bool, err error) {
	if !strings.Contains(c.Endpoint, "://") {
		return c.Endpoint, c.Secure, nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return "", false, ErrBadEndpoint
	}
	return u.Host, u.Scheme == "https", nil
}
