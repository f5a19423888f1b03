package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A change's writer lets the handler reach its connection, so a deploy's build can move the
// connection's deadlines past the server's timeouts for ordinary requests.
func TestChangesReachTheConnection(t *testing.T) {
	var setErr error
	h := (&API{view: syncedView{}, log: slog.New(slog.DiscardHandler)}).changes(func(w http.ResponseWriter, r *http.Request) {
		setErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Hour))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if setErr != nil {
		t.Fatalf("a change's handler cannot move its connection's write deadline: %v", setErr)
	}
}

// syncedView is a view that has always applied every change.
type syncedView struct{}

func (syncedView) Sync(context.Context) error { return nil }
