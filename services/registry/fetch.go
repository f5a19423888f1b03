package registry

import (
	"context"
	"errors"
	"fmt"

	"sluice.dev/events"
)

// MaxFetchBytes bounds a package fetched from object storage, as an upload is bounded.
const MaxFetchBytes = 64 << 20

// ErrNoObjectStorage is returned for code URLs when the node has no object storage configured.
var ErrNoObjectStorage = errors.New("no object storage configured on this node: start it with --s3-endpoint, --s3-access-key and --s3-secret-key (or SLUICE_S3_ENDPOINT, SLUICE_S3_ACCESS_KEY, SLUICE_S3_SECRET_KEY)")

// Fetcher reads a code package from object storage by URL (s3://bucket/key), at most limit
// bytes; a larger object is an error.
type Fetcher interface {
	Fetch(ctx context.Context, url string, limit int64) ([]byte, error)
}

// Option configures a Registry.
type Option func(*Registry)

// WithFetcher lets the registry take code from object storage URLs (FetchCode).
func WithFetcher(f Fetcher) Option {
	return func(r *Registry) { r.fetch = f }
}

// FetchCode reads the package at url from object storage, checks it and stores it as PutCode
// does. Without a Fetcher it returns ErrNoObjectStorage.
func (r *Registry) FetchCode(ctx context.Context, url string) (events.CodeRef, error) {
	if r.fetch == nil {
		return events.CodeRef{}, fmt.Errorf("code %s: %w", url, ErrNoObjectStorage)
	}
	zip, err := r.fetch.Fetch(ctx, url, MaxFetchBytes)
	if err != nil {
		return events.CodeRef{}, fmt.Errorf("code %s: %w", url, err)
	}
	ref, err := r.PutCode(ctx, zip)
	if err != nil {
		return events.CodeRef{}, fmt.Errorf("code %s: %w", url, err)
	}
	return ref, nil
}
