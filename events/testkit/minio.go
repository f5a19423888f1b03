package testkit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// MinIOInstall is how to install the MinIO server the tests use.
const MinIOInstall = "go tool task minio (it runs go install github.com/minio/minio@<the version pinned in task/install.go> into ./bin)"

// MinIO is a MinIO server run for one test: a loopback port, a temporary data folder and fixed
// credentials. It is killed when the test ends.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string

	t   testing.TB
	bin string
	dir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

// StartMinIO runs a MinIO server until the test ends and returns once it serves requests.
//
// The binary is $SLUICE_TEST_MINIO, else bin/minio at the top of the repository (where `go tool
// task minio` installs it), else minio in $GOBIN, $GOPATH/bin or $PATH. Without one the test is
// skipped with the command that installs it, or fails when SLUICE_REQUIRE_MINIO=1 (as in CI).
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := MinIOBinary()
	if bin == "" {
		if os.Getenv("SLUICE_REQUIRE_MINIO") == "1" {
			t.Fatalf("no minio binary, and SLUICE_REQUIRE_MINIO=1: install it with %s", MinIOInstall)
		}
		t.Skipf("no minio binary: install it with %s", MinIOInstall)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()
	m := &MinIO{Endpoint: endpoint, AccessKey: "sluice-test", SecretKey: "sluice-test-secret", t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(m.Stop)
	m.Start()
	return m
}

// Start runs the server again after Stop, on the same address and data, and returns once it
// serves requests.
func (m *MinIO) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.Endpoint, "--console-address", "127.0.0.1:0", m.dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	m.out = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start minio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.cmd, m.done = cmd, done
	// The cluster check answers 200 only once the object layer, bucket metadata and users are
	// loaded; the readiness check answers earlier than that.
	EventuallyEvery(m.t, time.Minute, 50*time.Millisecond, func() error {
		select {
		case <-done:
			m.t.Fatalf("minio exited:\n%s", m.out)
		default:
		}
		resp, err := http.Get("http://" + m.Endpoint + "/minio/health/cluster")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("minio health: %s", resp.Status)
		}
		return nil
	})
}

// PID is the running server's process id, 0 when it is stopped.
func (m *MinIO) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Stop kills the server; its data stays for the next Start.
func (m *MinIO) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// Put uploads data as bucket/key, creating the bucket first when it does not exist.
func (m *MinIO) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if status, body := m.do(t, http.MethodPut, "/"+bucket, nil); status != http.StatusOK && !strings.Contains(body, "BucketAlreadyOwnedByYou") {
		t.Fatalf("make bucket %s: %d %s", bucket, status, body)
	}
	if status, body := m.do(t, http.MethodPut, "/"+bucket+"/"+key, data); status != http.StatusOK {
		t.Fatalf("put s3://%s/%s: %d %s", bucket, key, status, body)
	}
}

// Delete removes bucket/key.
func (m *MinIO) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if status, body := m.do(t, http.MethodDelete, "/"+bucket+"/"+key, nil); status != http.StatusNoContent {
		t.Fatalf("delete s3://%s/%s: %d %s", bucket, key, status, body)
	}
}

// do sends one S3 request signed with the server's credentials. Signature version 2 keeps this a
// few lines of the standard library, which a local test server accepts.
func (m *MinIO) do(t testing.TB, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+m.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("Date", date)
	mac := hmac.New(sha1.New, []byte(m.SecretKey))
	mac.Write([]byte(method + "\n\n\n" + date + "\n" + req.URL.EscapedPath()))
	req.Header.Set("Authorization", "AWS "+m.AccessKey+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// MinIOBinary returns the path of the minio binary StartMinIO runs, or "" when there is none.
func MinIOBinary() string {
	if p := os.Getenv("SLUICE_TEST_MINIO"); p != "" {
		return p
	}
	var dirs []string
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				dirs = append(dirs, filepath.Join(dir, "bin"))
				break
			}
		}
	}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gopath)[0], "bin"))
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "minio")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	p, _ := exec.LookPath("minio")
	return p
}

// lockedBuffer is the server's output, written by its process and read on failure.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
