package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"sluice.dev/events"
	"sluice.dev/services/archive"
)

// codeCache unpacks code packages from the object store once per sha256 into dir/<sha256>.
type codeCache struct {
	store  jetstream.ObjectStore
	dir    string
	limits archive.Limits
	flight singleflight.Group
}

// Dir returns the folder holding the unpacked package, fetching and unpacking it on first use.
func (c *codeCache) Dir(ctx context.Context, ref events.CodeRef) (string, error) {
	dest := filepath.Join(c.dir, ref.SHA256)
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	_, err, _ := c.flight.Do(ref.SHA256, func() (any, error) {
		if _, err := os.Stat(dest); err == nil {
			return nil, nil
		}
		zip, err := c.store.GetBytes(ctx, ref.SHA256)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("code package %s is not in the store", ref.SHA256)
		}
		if err != nil {
			return nil, fmt.Errorf("fetch code package %s: %w", ref.SHA256, err)
		}
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return nil, fmt.Errorf("code cache: %w", err)
		}
		return nil, archive.Extract(ctx, zip, dest, c.limits)
	})
	if err != nil {
		return "", err
	}
	return dest, nil
}
