package storage_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"sluice.dev/events/testkit"
)

// minioServer is the test's MinIO (testkit's, so it can be stopped and started again as the same
// server) with a client for what these tests need beyond testkit's Put: exact buckets and ETags.
type minioServer struct {
	*testkit.MinIO
	client *minio.Client
}

// startMinio runs MinIO until the test ends, or skips the test when there is no binary (fails
// when SLUICE_REQUIRE_MINIO=1).
func startMinio(t testing.TB) *minioServer {
	t.Helper()
	m := testkit.StartMinIO(t)
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &minioServer{MinIO: m, client: c}
}

func (s *minioServer) makeBucket(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		var resp minio.ErrorResponse
		if !errors.As(err, &resp) || resp.Code != "BucketAlreadyOwnedByYou" {
			t.Fatalf("make bucket %s: %v", bucket, err)
		}
	}
}

func (s *minioServer) put(t testing.TB, bucket, key, body string) minio.UploadInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := s.client.PutObject(ctx, bucket, key, bytes.NewReader([]byte(body)), int64(len(body)), minio.PutObjectOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
	return info
}

// modified is key's modification time as a listing shows it, which is what the adapter compares.
func (s *minioServer) modified(t testing.TB, bucket, key string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for o := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key}) {
		if o.Err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, key, o.Err)
		}
		if o.Key == key {
			return o.LastModified
		}
	}
	t.Fatalf("no object s3://%s/%s", bucket, key)
	return time.Time{}
}
