package storage_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials of the test MinIO.
const (
	testAccessKey = "sluice-test"
	testSecretKey = "sluice-test-secret"
)

// minioServer is a MinIO process on a fixed loopback address and data folder, so a test can stop
// it and start it again as the same server.
type minioServer struct {
	t        testing.TB
	bin      string
	dir      string
	endpoint string
	client   *minio.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

// minioBinary finds the minio binary: $SLUICE_TEST_MINIO, bin/minio beside the repository's
// go.work (`go tool task minio` puts it there), then $PATH.
func minioBinary() string {
	if p := os.Getenv("SLUICE_TEST_MINIO"); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				if p := filepath.Join(dir, "bin", "minio"); fileExists(p) {
					return p
				}
				break
			}
		}
	}
	p, _ := exec.LookPath("minio")
	return p
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// startMinio runs MinIO until the test ends, or skips the test when there is no binary (fails
// when SLUICE_REQUIRE_MINIO=1).
func startMinio(t testing.TB) *minioServer {
	t.Helper()
	bin := minioBinary()
	if bin == "" {
		if os.Getenv("SLUICE_REQUIRE_MINIO") == "1" {
			t.Fatal("no minio binary and SLUICE_REQUIRE_MINIO=1: install it with go tool task minio")
		}
		t.Skip("no minio binary: install it with go tool task minio")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(testAccessKey, testSecretKey, ""), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := &minioServer{t: t, bin: bin, dir: t.TempDir(), endpoint: endpoint, client: c}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start runs the server (again) and waits until it serves.
func (s *minioServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.endpoint, "--console-address", "127.0.0.1:0", s.dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+testAccessKey, "MINIO_ROOT_PASSWORD="+testSecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start minio: %v", err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func(done chan<- error) { done <- cmd.Wait() }(s.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case werr := <-s.done:
			s.t.Fatalf("minio exited: %v\n%s", werr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("minio does not serve within 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server; its data stays for the next start.
func (s *minioServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
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

func (s *minioServer) remove(t testing.TB, bucket, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("remove s3://%s/%s: %v", bucket, key, err)
	}
}
