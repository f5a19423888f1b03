package sluice

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI hands out the given payloads on /next, records the answers, and ends the loop (500)
// when it runs out.
type fakeAPI struct {
	mu       sync.Mutex
	payloads []string
	answers  []string // "response <body>" or "error <type> <body>"
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	switch {
	case path == "/invocation/next":
		if len(f.payloads) == 0 {
			http.Error(w, "done", http.StatusInternalServerError)
			return
		}
		id := fmt.Sprintf("r%d", len(f.answers)+1)
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
		w.Header().Set("Sluice-Event-Attributes", `{"id":"e1","type":"dev.sluice.invoke","source":"test"}`)
		io.WriteString(w, f.payloads[0])
		f.payloads = f.payloads[1:]
	case strings.HasSuffix(path, "/response"):
		b, _ := io.ReadAll(r.Body)
		f.answers = append(f.answers, "response "+string(b))
		w.WriteHeader(http.StatusAccepted)
	case strings.HasSuffix(path, "/error"):
		b, _ := io.ReadAll(r.Body)
		f.answers = append(f.answers, "error "+r.Header.Get("Lambda-Runtime-Function-Error-Type")+" "+string(b))
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// got is the answers so far. The fake's lock orders them before the test reads them: the
// client's raw socket reads and writes (package rawio) are invisible to the race detector.
func (f *fakeAPI) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.answers...)
}

type quotaError struct{}

func (quotaError) Error() string { return "no quota" }

func run(t *testing.T, payloads []string, handler func(context.Context, map[string]any) (any, error)) ([]string, error) {
	t.Helper()
	f := &fakeAPI{payloads: payloads}
	srv := httptest.NewServer(f)
	defer srv.Close()
	stdout = io.Discard
	env := map[string]string{"AWS_LAMBDA_RUNTIME_API": strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_VERSION": "4", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}
	err := Run(context.Background(), func(k string) string { return env[k] }, handler)
	return f.got(), err
}

func TestRun(t *testing.T) {
	answers, err := run(t, []string{`{"do":"ctx"}`, `{"do":"typed"}`, `{"do":"plain"}`, `not json`, `{"do":"panic"}`, `{}`},
		func(ctx context.Context, in map[string]any) (any, error) {
			switch in["do"] {
			case "ctx":
				fc := FromContext(ctx)
				dl, ok := ctx.Deadline()
				return map[string]any{"id": fc.RequestID, "fn": fc.FunctionName, "v": fc.FunctionVersion, "mem": fc.MemoryMB,
					"ce": fc.Event["type"], "deadline": ok && dl.Equal(fc.Deadline) && fc.RemainingTime() > 0}, nil
			case "typed":
				return nil, fmt.Errorf("wrapped: %w", &Error{Type: "Validation", Message: "bad name"})
			case "plain":
				return nil, quotaError{}
			case "panic":
				panic("fell over")
			}
			return "unreachable", nil
		})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Run = %v, want the panic to end it", err)
	}
	if len(answers) != 5 {
		t.Fatalf("answers = %q", answers)
	}
	var ctxAnswer map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(answers[0], "response ")), &ctxAnswer); err != nil {
		t.Fatal(err)
	}
	if ctxAnswer["id"] != "r1" || ctxAnswer["fn"] != "fn" || ctxAnswer["v"] != "4" || ctxAnswer["mem"] != 256.0 ||
		ctxAnswer["ce"] != "dev.sluice.invoke" || ctxAnswer["deadline"] != true {
		t.Errorf("context = %v", ctxAnswer)
	}
	for n, want := range []string{
		`error Validation {"errorMessage":"wrapped: bad name","errorType":"Validation"}`,
		`error quotaError {"errorMessage":"no quota","errorType":"quotaError"}`,
		`error Runtime.UnmarshalError `,
		`error Runtime.Panic {"errorMessage":"fell over","errorType":"Runtime.Panic","stackTrace":[`,
	} {
		if !strings.HasPrefix(answers[n+1], want) {
			t.Errorf("answer %d = %.120s, want %s", n+2, answers[n+1], want)
		}
	}
}

func TestRawPayloads(t *testing.T) {
	f := &fakeAPI{payloads: []string{`[1, 2]`}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	err := Run(context.Background(), func(k string) string {
		if k == "AWS_LAMBDA_RUNTIME_API" {
			return strings.TrimPrefix(srv.URL, "http://")
		}
		return ""
	}, func(_ context.Context, in json.RawMessage) ([]byte, error) { return append([]byte("got "), in...), nil })
	if answers := f.got(); err == nil || len(answers) != 1 || answers[0] != "response got [1, 2]" {
		t.Fatalf("answers %q, err %v", answers, err)
	}
}

// Source must hold every file a build needs: go.mod and each non-test source file of every
// package of the module.
func TestSourceHoldsThePackage(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" { // no package, as for the go command
				return filepath.SkipDir
			}
			return nil
		}
		if p != "go.mod" && (!strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go")) {
			return nil
		}
		if _, err := Source.Open(filepath.ToSlash(p)); err != nil {
			t.Errorf("Source lacks %s: add it to the go:embed line", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The client reads a chunked answer (a payload past net/http's buffer), and dials again when the
// API closed the kept connection while it was idle.
func TestClientChunkedAnswersAndClosedIdleConnections(t *testing.T) {
	big := `"` + strings.Repeat("x", 100<<10) + `"`
	f := &fakeAPI{payloads: []string{big, `{}`, `{}`}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.IdleTimeout = 20 * time.Millisecond // closes each idle connection, unannounced
	srv.Start()
	defer srv.Close()
	c, inv := nextFrom(t, srv, big)
	var err error
	for i := range 3 {
		time.Sleep(50 * time.Millisecond) // past the idle timeout: the connection is gone
		inv, err = c.answerThenNext(context.Background(), response(inv.id, []byte(`1`)))
		if i < 2 && err != nil {
			t.Fatalf("answer %d and next: %v", i, err)
		}
	}
	if err == nil { // the fake has no fourth invocation
		t.Fatal("the last ask for an invocation found one")
	}
	if answers := f.got(); len(answers) != 3 {
		t.Fatalf("answers = %q", answers)
	}
}

// nextFrom makes a client of srv and asks it for an invocation, whose payload must be want.
func nextFrom(t *testing.T, srv *httptest.Server, want string) (*client, *invocation) {
	t.Helper()
	c := newClient(strings.TrimPrefix(srv.URL, "http://"))
	inv, err := c.next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(inv.payload) != want {
		t.Fatalf("payload of %d bytes read as %d", len(want), len(inv.payload))
	}
	return c, inv
}

// Ending the context ends a wait for the next invocation.
func TestClientWaitEndsWithItsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(strings.TrimPrefix(srv.URL, "http://")).next(ctx)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("next = %v after %s, want an error once the context ended", err, time.Since(start))
	}
}

// Payloads past the sockets' buffers go both ways whole: the client's writes and reads wait for
// the connection (the netpoller) rather than failing or cutting them.
func TestClientMovesPayloadsLargerThanTheSocketBuffers(t *testing.T) {
	big := `"` + strings.Repeat("y", 6<<20) + `"`
	f := &fakeAPI{payloads: []string{big}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, inv := nextFrom(t, srv, big)
	a := response(inv.id, inv.payload)
	if err := c.post(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if answers := f.got(); len(answers) != 1 || answers[0] != "response "+big {
		t.Fatalf("%d answers; want one of %d bytes", len(answers), len("response "+big))
	}
}
