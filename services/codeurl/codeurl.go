package codeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"sluice.dev/adapters/s3conf"
)

// Errors of fetching a code URL.
var (
	ErrBadURL      = errors.New("bad code URL")
	ErrNoObject    = errors.New("no object")
	ErrDenied      = errors.New("access denied")
	ErrUnreachable = errors.New("object storage unreachable")
	ErrTooLarge    = errors.New("object too large")
)

// Bounds of one fetch.
const (
	dialTimeout  = 10 * time.Second
	fetchTimeout = 5 * time.Minute
)

// Store reads objects from one endpoint.
type Store struct {
	client   *minio.Client
	endpoint string // for messages
}

// New checks cfg, the node's object storage connection, and makes a Store. It does not connect:
// an unreachable endpoint shows at the first Fetch, with its address.
func New(cfg s3conf.Config) (*Store, error) {
	endpoint, secure, err := cfg.Host()
	if err != nil {
		return nil, fmt.Errorf("object storage endpoint %q: %w", cfg.Endpoint, err)
	}
	if endpoint == "" {
		return nil, errors.New("object storage endpoint is empty: give host:port")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("object storage: give both the access key and the secret key, or neither for anonymous access")
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("object storage transport: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	c, err := minio.New(endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: secure,
		Region: cfg.Region, Transport: tr, MaxRetries: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("object storage endpoint %q: %w", cfg.Endpoint, err)
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	return &Store{client: c, endpoint: scheme + "://" + endpoint}, nil
}

// Endpoint is the store's address, with its scheme.
func (s *Store) Endpoint() string { return s.endpoint }

// bucketRE is the form of S3 bucket names.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Parse splits s3://bucket/key into its bucket and key.
func Parse(raw string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w %q: use s3://bucket/key.zip", ErrBadURL, raw)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	switch {
	case !bucketRE.MatchString(bucket):
		return "", "", fmt.Errorf("%w %q: bucket %q is not a valid bucket name (3 to 63 lower-case letters, digits, '.' and '-')", ErrBadURL, raw, bucket)
	case key == "" || strings.HasSuffix(key, "/"):
		return "", "", fmt.Errorf("%w %q: name an object, e.g. s3://%s/code.zip", ErrBadURL, raw, bucket)
	}
	return bucket, key, nil
}

// Fetch reads the object at rawURL (s3://bucket/key), at most limit bytes.
func (s *Store) Fetch(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	bucket, key, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	obj, err := s.client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explain(rawURL, bucket, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return nil, s.explain(rawURL, bucket, err)
	}
	if info.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrTooLarge, rawURL, info.Size, limit)
	}
	b, err := io.ReadAll(io.LimitReader(obj, limit+1))
	if err != nil {
		return nil, s.explain(rawURL, bucket, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is over the limit of %d bytes", ErrTooLarge, rawURL, limit)
	}
	return b, nil
}

// explain turns a client error into one of the package's errors.
func (s *Store) explain(rawURL, bucket string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchBucket":
		return fmt.Errorf("%w %s: bucket %s does not exist at %s", ErrNoObject, rawURL, bucket, s.endpoint)
	case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w %s at %s", ErrNoObject, rawURL, s.endpoint)
	case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w to %s by %s (%s: %s): check the node's S3 access and secret keys (SLUICE_S3_ACCESS_KEY, SLUICE_S3_SECRET_KEY) and the bucket's policy", ErrDenied, rawURL, s.endpoint, resp.Code, resp.Message)
	case isNetwork(err):
		return fmt.Errorf("%w: %s does not answer (%v): check --s3-endpoint / SLUICE_S3_ENDPOINT and that the store is running", ErrUnreachable, s.endpoint, err)
	}
	return fmt.Errorf("fetch %s from %s: %w", rawURL, s.endpoint, err)
}

func isNetwork(err error) bool {
	var (
		ne  net.Error
		ue  *url.Error
		op  *net.OpError
		dns *net.DNSError
	)
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}
