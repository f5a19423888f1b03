package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials of the test's MinIO server.
const (
	minioUser   = "sluice-e2e"
	minioSecret = "sluice-e2e-secret"
)

// minioBinary finds the MinIO server: $SLUICE_TEST_MINIO, the repository's bin/minio (where
// `go tool task minio` installs it), $GOBIN, $GOPATH/bin, then $PATH.
func minioBinary() string {
	if p := os.Getenv("SLUICE_TEST_MINIO"); p != "" {
		return p
	}
	candidates := []string{filepath.Join("..", "bin", "minio")}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "minio"))
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(gopath)), string(os.PathListSeparator))
		candidates = append(candidates, filepath.Join(first, "bin", "minio"))
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

// startMinIO runs a MinIO server on a free loopback port with a temporary folder until the test
// ends, and returns its address and a client. Without the binary the test is skipped, saying how
// to install it, unless SLUICE_REQUIRE_MINIO=1 (as in CI), where it fails.
func startMinIO(t *testing.T) (string, *minio.Client) {
	t.Helper()
	bin := minioBinary()
	if bin == "" {
		msg := "no minio binary: install it with `go tool task minio` (go install github.com/minio/minio@<the version pinned in task/install.go> into ./bin)"
		if os.Getenv("SLUICE_REQUIRE_MINIO") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	addr, console := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	out := newOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	eventually(t, time.Minute, 50*time.Millisecond, func() error {
		select {
		case <-done:
			t.Fatalf("minio exited:\n%s", out.tail(20))
		default:
		}
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &net.AddrError{Err: resp.Status, Addr: addr}
		}
		return nil
	})
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(minioUser, minioSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	// Ready can answer before the object layer serves: wait for a real call to succeed.
	eventually(t, time.Minute, 50*time.Millisecond, func() error {
		_, err := c.ListBuckets(t.Context())
		return err
	})
	return addr, c
}

func putObject(t *testing.T, c *minio.Client, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if ok, err := c.BucketExists(ctx, bucket); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err == nil {
		_, err = w.Write([]byte(content))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCodeURL deploys code from a real MinIO bucket and checks each failure a user can meet:
// missing object or bucket, not a zip, wrong credentials, an endpoint that does not answer, and
// a node without object storage.
func TestCodeURL(t *testing.T) {
	addr, mc := startMinIO(t)
	putObject(t, mc, "code", "hello/v1.zip", zipOf(t, "main.py", "def handler(event, context):\n    return {'from': 's3', 'event': event}\n"))
	putObject(t, mc, "code", "readme.txt", []byte("not a zip"))

	n := newSite(t).start(t, "--s3-endpoint", "http://"+addr, "--s3-access-key", minioUser, "--s3-secret-key", minioSecret)
	r := n.ok(t, "deploy", "pulled", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip")
	if !strings.Contains(r.stdout, "deployed pulled version 1") || !strings.Contains(r.stdout, "from s3://code/hello/v1.zip") {
		t.Fatalf("deploy --code-url: %s", r)
	}
	if got := n.ok(t, "invoke", "pulled", "--data", `{"n":1}`).lastLine(); got != `{"from": "s3", "event": {"n": 1}}` {
		t.Fatalf("invoke = %s", got)
	}
	if r := n.ok(t, "versions", "pulled"); !strings.Contains(r.stdout, "s3://code/hello/v1.zip") {
		t.Fatalf("versions: %s", r.stdout)
	}
	resp := n.request(t, http.MethodPut, "/v1/functions/viaapi", []byte(`{"runtime":"python","handler":"main.handler","code":{"url":"s3://code/hello/v1.zip"}}`), false)
	if resp.status != 201 || !strings.Contains(string(resp.body), `"origin":"s3://code/hello/v1.zip"`) {
		t.Fatalf("API deploy from a code URL: %d %s", resp.status, resp.body)
	}
	for url, want := range map[string]string{
		"s3://code/missing.zip": "no object s3://code/missing.zip",
		"s3://nobucket/x.zip":   "bucket nobucket does not exist",
		"s3://code/readme.txt":  "not a zip",
	} {
		r := n.sluice(t, "deploy", "bad", "--runtime", "python", "--handler", "main.handler", "--code-url", url)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("deploy --code-url %s: want %q, got %s", url, want, r)
		}
	}

	denied := newSite(t).start(t, "--s3-endpoint", addr, "--s3-access-key", minioUser, "--s3-secret-key", "not-the-secret")
	if r := denied.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, "access denied") {
		t.Errorf("wrong secret: %s", r)
	}
	closed := freeAddr(t) // nothing listens there
	gone := newSite(t).start(t, "--s3-endpoint", closed, "--s3-access-key", minioUser, "--s3-secret-key", minioSecret)
	if r := gone.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, closed) || !strings.Contains(r.stderr, "does not answer") {
		t.Errorf("unreachable endpoint: %s", r)
	}
	none := newSite(t).start(t)
	if r := none.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, "no object storage configured") {
		t.Errorf("no object storage: %s", r)
	}
}
