package testkit

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestEventuallyWaitsForNil(t *testing.T) {
	calls := 0
	Eventually(t, 5*time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("%d calls, want 3", calls)
	}
}

func TestMinIOPutStopStart(t *testing.T) {
	m := StartMinIO(t)
	m.Put(t, "kit", "dir/a b.txt", []byte("hello"))
	m.Put(t, "kit", "second", []byte("again")) // the bucket exists by now
	m.Stop()
	if _, err := http.Get("http://" + m.Endpoint + "/minio/health/live"); err == nil {
		t.Fatal("minio answers after Stop")
	}
	m.Start()
	m.Put(t, "kit", "third", []byte("after a restart"))
	for key, want := range map[string]string{"dir/a b.txt": "hello", "second": "again", "third": "after a restart"} {
		if status, body := m.do(t, http.MethodGet, "/kit/"+key, nil); status != http.StatusOK || body != want {
			t.Errorf("get %s: %d %q, want %q", key, status, body, want)
		}
	}
}
