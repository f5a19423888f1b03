package sluice

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A handler blocked for good, with nothing else running in the process, is left to the
// platform's timeout: Go's deadlock detector would otherwise end the process (exit status 2,
// "all goroutines are asleep") the moment the invocation's context timer fired, and the
// platform would report a crash where the function timed out.
func TestAHandlerThatNeverReturnsWaitsForThePlatform(t *testing.T) {
	deadline := time.Now().Add(300 * time.Millisecond)
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/invocation/next") {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		select {
		case asked <- struct{}{}:
		default:
			<-r.Context().Done() // one invocation only
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(deadline.UnixMilli()))
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	// A program of its own: a test binary runs goroutines of its own that hide a deadlock.
	bin := filepath.Join(t.TempDir(), "hang")
	build := exec.Command("go", "build", "-o", bin, "./testdata/hang")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as functions are built: cgo hides a deadlock too
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-asked:
	case err := <-exited:
		t.Fatalf("the function ended before its first invocation: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation asked for")
	}
	select {
	case err := <-exited:
		t.Fatalf("the function ended by itself %s after its deadline: %v\n%s", time.Since(deadline).Round(time.Millisecond), err, stderr.String())
	case <-time.After(time.Until(deadline) + time.Second):
	}
	_ = cmd.Process.Kill()
	<-exited
}
