package events

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// On a cluster (Replicas > 1) the buckets and the object store are read from their stream's
// leader only. JetStream's default for them, direct gets, lets any replica answer a read, and a
// follower answers as soon as it is nearly caught up: a function deployed or a trigger added
// through one gateway could then be missing when read back a moment later. Leader reads see
// every acknowledged write.
//
// A client decides between direct and leader reads when it binds a bucket, from the stream's
// setting at that moment. So Ensure never touches a bucket whose configuration is already what
// it wants (updating one through nats.go turns direct gets back on, if only until the next
// step), and turns them off right after creating or changing one, before any role binds it.

// ensureKeyValue creates a bucket or brings it to c, then sets its reads. With keepReplicas, an
// existing bucket keeps its replica count, with keepSize its MaxBytes.
func ensureKeyValue(ctx context.Context, js jetstream.JetStream, c jetstream.KeyValueConfig, keepReplicas, keepSize bool) error {
	if kv, err := js.KeyValue(ctx, c.Bucket); err == nil && (keepReplicas || keepSize) {
		if st, err := kv.Status(ctx); err == nil {
			if s, ok := st.(*jetstream.KeyValueBucketStatus); ok {
				if keepReplicas {
					c.Replicas = s.StreamInfo().Config.Replicas
				}
				if keepSize {
					c.MaxBytes = s.StreamInfo().Config.MaxBytes
				}
			}
		}
	}
	if !keyValueCurrent(ctx, js, c) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, c); err != nil {
			return err
		}
	}
	return leaderReads(ctx, js, "KV_"+c.Bucket, c.Replicas)
}

// keyValueCurrent reports whether the bucket exists with the settings of c.
func keyValueCurrent(ctx context.Context, js jetstream.JetStream, c jetstream.KeyValueConfig) bool {
	kv, err := js.KeyValue(ctx, c.Bucket)
	if err != nil {
		return false
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return false
	}
	s, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return false
	}
	return reflect.DeepEqual(normalKeyValue(s.Config()), normalKeyValue(c))
}

// normalKeyValue fills a bucket configuration's defaults as the server reports them and drops
// the metadata the server adds itself, so that a wanted and an existing configuration compare.
func normalKeyValue(c jetstream.KeyValueConfig) jetstream.KeyValueConfig {
	c.History = max(c.History, 1)
	c.Replicas = max(c.Replicas, 1)
	if c.MaxValueSize == 0 {
		c.MaxValueSize = -1
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	var md map[string]string
	for k, v := range c.Metadata {
		if !strings.HasPrefix(k, "_nats.") {
			if md == nil {
				md = map[string]string{}
			}
			md[k] = v
		}
	}
	c.Metadata = md
	return c
}

// ensureObjectStore creates the object store or brings it to c, then sets its reads. With
// keepReplicas, an existing store keeps its replica count, with keepSize its MaxBytes.
func ensureObjectStore(ctx context.Context, js jetstream.JetStream, c jetstream.ObjectStoreConfig, keepReplicas, keepSize bool) error {
	if obs, err := js.ObjectStore(ctx, c.Bucket); err == nil && (keepReplicas || keepSize) {
		if st, err := obs.Status(ctx); err == nil {
			if keepReplicas {
				c.Replicas = st.Replicas()
			}
			if s, ok := st.(*jetstream.ObjectBucketStatus); ok && keepSize {
				c.MaxBytes = s.StreamInfo().Config.MaxBytes
			}
		}
	}
	if !objectStoreCurrent(ctx, js, c) {
		if _, err := js.CreateOrUpdateObjectStore(ctx, c); err != nil {
			return err
		}
	}
	return leaderReads(ctx, js, "OBJ_"+c.Bucket, c.Replicas)
}

func objectStoreCurrent(ctx context.Context, js jetstream.JetStream, c jetstream.ObjectStoreConfig) bool {
	obs, err := js.ObjectStore(ctx, c.Bucket)
	if err != nil {
		return false
	}
	st, err := obs.Status(ctx)
	if err != nil {
		return false
	}
	maxBytes := int64(-1)
	if s, ok := st.(*jetstream.ObjectBucketStatus); ok {
		maxBytes = s.StreamInfo().Config.MaxBytes
	}
	if c.MaxBytes > 0 != (maxBytes > 0) || (c.MaxBytes > 0 && c.MaxBytes != maxBytes) {
		return false
	}
	return st.Description() == c.Description && st.TTL() == c.TTL && st.Storage() == c.Storage && st.Replicas() == max(c.Replicas, 1)
}

// leaderReads turns direct gets off on a replicated bucket's stream (and leaves a single
// replica's as nats.go makes them).
func leaderReads(ctx context.Context, js jetstream.JetStream, stream string, replicas int) error {
	if replicas <= 1 {
		return nil
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowDirect {
		return nil
	}
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("leader reads on %s: %w", stream, err)
	}
	return nil
}
