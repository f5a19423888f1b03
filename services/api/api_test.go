package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/billing"
	"sluice.dev/services/directory"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/registry"
)

type env struct {
	bus *bustest.Bus
	srv *httptest.Server
}

func start(t *testing.T, opts ...registry.Option) *env {
	t.Helper()
	bus := bustest.Start(t)
	reg, err := registry.New(bus.JS, runtimes(t), archive.Limits{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	a := api.New(reg, bus.JS, nil, nil)
	a.Routes(r)
	a.ObserveRoutes(r, billing.Prices{})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{bus: bus, srv: srv}
}

func (e *env) do(t *testing.T, method, path, body string, out any) (int, httpjson.ErrorDetail) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var eb httpjson.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" {
			t.Fatalf("%s %s: %d with a body not in the error shape: %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, httpjson.ErrorDetail{}
}

func (e *env) upload(t *testing.T) events.CodeRef {
	t.Helper()
	z, _ := archive.FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	var ref events.CodeRef
	if st, ed := e.do(t, "POST", "/v1/code", string(z), &ref); st != 201 {
		t.Fatalf("upload: %d %+v", st, ed)
	}
	return ref
}

func TestCode(t *testing.T) {
	e := start(t)
	ref := e.upload(t)
	if len(ref.SHA256) != 64 || ref.Size == 0 {
		t.Fatalf("ref = %+v", ref)
	}
	st, ed := e.do(t, "POST", "/v1/code", "not a zip", nil)
	if st != 400 || ed.Code != api.CodeBadArchive || !strings.Contains(ed.Message, "not a zip") {
		t.Fatalf("bad archive: %d %+v", st, ed)
	}
	var buf bytes.Buffer
	_ = archiveSlip(&buf)
	st, ed = e.do(t, "POST", "/v1/code", buf.String(), nil)
	if st != 400 || ed.Code != api.CodeBadArchive || !strings.Contains(ed.Message, "..") {
		t.Fatalf("zip-slip: %d %+v", st, ed)
	}
	st, ed = e.do(t, "POST", "/v1/code", strings.Repeat("x", wire.MaxCodeBytes+1), nil)
	if st != 413 || ed.Code != httpjson.CodeTooLarge {
		t.Fatalf("oversize: %d %+v", st, ed)
	}
}

func TestDeploy(t *testing.T) {
	e := start(t)
	ref := e.upload(t)
	body := `{"runtime":"python","handler":"main.handler","timeout":"10s","memoryMB":256,"env":{"A":"1"},"code":{"sha256":"` + ref.SHA256 + `"}}`
	var v events.Version
	if st, ed := e.do(t, "PUT", "/v1/functions/hello", body, &v); st != 201 {
		t.Fatalf("deploy: %d %+v", st, ed)
	}
	if v.Version != 1 || v.Config.Timeout.D() != 10*time.Second || v.Config.MemoryMB != 256 || v.Config.Retries != events.DefaultRetries || v.Code != ref {
		t.Fatalf("v1 = %+v", v)
	}
	inline := `{"runtime":"python","handler":"main.handler","retries":0,"inline":{"file":"main.py","content":"def handler(e, c):\n    return 1\n"}}`
	if st, ed := e.do(t, "PUT", "/v1/functions/hello", inline, &v); st != 201 || v.Version != 2 || v.Config.Retries != 0 {
		t.Fatalf("inline deploy: %d %+v %+v", st, ed, v)
	}
	cases := []struct {
		name, path, body, code, msg string
		status                      int
	}{
		{"bad name", "/v1/functions/Hello", body, api.CodeInvalid, "invalid function name", 400},
		{"runtime", "/v1/functions/f", strings.Replace(body, `"python"`, `"cobol"`, 1), api.CodeInvalid, "use one of", 400},
		{"handler", "/v1/functions/f", strings.Replace(body, `"main.handler"`, `"main"`, 1), api.CodeInvalid, "module.function", 400},
		{"memory", "/v1/functions/f", strings.Replace(body, `256`, `1`, 1), api.CodeInvalid, "memoryMB 1", 400},
		{"timeout", "/v1/functions/f", strings.Replace(body, `"10s"`, `"1h"`, 1), api.CodeInvalid, "timeout 1h", 400},
		{"bad duration", "/v1/functions/f", strings.Replace(body, `"10s"`, `"soon"`, 1), api.CodeInvalid, "soon", 400},
		{"unknown field", "/v1/functions/f", strings.Replace(body, `"memoryMB"`, `"memory"`, 1), api.CodeInvalid, `unknown field "memory"`, 400},
		{"no code", "/v1/functions/f", `{"runtime":"python","handler":"main.handler"}`, api.CodeInvalid, "exactly one", 400},
		{"unknown code", "/v1/functions/f", strings.Replace(body, ref.SHA256, strings.Repeat("0", 64), 1), api.CodeCodeNotFound, "upload it first", 404},
		{"inline slip", "/v1/functions/f", `{"runtime":"python","handler":"main.handler","inline":{"file":"../x.py","content":""}}`, api.CodeInvalid, "..", 400},
		{"not json", "/v1/functions/f", `{`, api.CodeInvalid, "request body", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ed := e.do(t, "PUT", tc.path, tc.body, nil)
			if st != tc.status || ed.Code != tc.code || !strings.Contains(ed.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %d %s with %q", st, ed, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestReadAndDelete(t *testing.T) {
	e := start(t)
	ref := e.upload(t)
	for _, name := range []string{"beta", "alpha", "alpha"} {
		body := `{"runtime":"python","handler":"main.handler","code":{"sha256":"` + ref.SHA256 + `"}}`
		if st, ed := e.do(t, "PUT", "/v1/functions/"+name, body, nil); st != 201 {
			t.Fatalf("deploy %s: %d %+v", name, st, ed)
		}
	}
	var list struct{ Functions []wire.FunctionSummary }
	if st, _ := e.do(t, "GET", "/v1/functions", "", &list); st != 200 || len(list.Functions) != 2 {
		t.Fatalf("list: %d %+v", st, list)
	}
	a := list.Functions[0]
	if a.Name != "alpha" || a.Latest != 2 || a.Runtime != "python" || a.Handler != "main.handler" || a.MemoryMB != 128 || a.Timeout.D() != 30*time.Second || a.Updated.IsZero() {
		t.Fatalf("alpha row = %+v", a)
	}
	var detail wire.FunctionDetail
	if st, _ := e.do(t, "GET", "/v1/functions/alpha", "", &detail); st != 200 || detail.Function.Latest != 2 || detail.Version.Version != 2 {
		t.Fatalf("get: %d %+v", st, detail)
	}
	var vs struct{ Versions []events.Version }
	if st, _ := e.do(t, "GET", "/v1/functions/alpha/versions", "", &vs); st != 200 || len(vs.Versions) != 2 {
		t.Fatalf("versions: %d %+v", st, vs)
	}
	if st, _ := e.do(t, "DELETE", "/v1/functions/alpha", "", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	for _, p := range []string{"/v1/functions/alpha", "/v1/functions/alpha/versions", "/v1/functions/alpha/logs"} {
		if st, ed := e.do(t, "GET", p, "", nil); st != 404 || ed.Code != api.CodeFunctionNotFound {
			t.Fatalf("GET %s after delete: %d %+v", p, st, ed)
		}
	}
	if st, ed := e.do(t, "DELETE", "/v1/functions/alpha", "", nil); st != 404 || ed.Code != api.CodeFunctionNotFound {
		t.Fatalf("second delete: %d %+v", st, ed)
	}
}

func publishLog(t *testing.T, e *env, fn, inv, msg string, at time.Time) {
	t.Helper()
	b, _ := json.Marshal(events.LogLine{Time: at, Function: fn, InvocationID: inv, Stream: "stdout", Message: msg})
	if _, err := e.bus.JS.Publish(context.Background(), events.LogsSubject(fn), b); err != nil {
		t.Fatal(err)
	}
}

func TestLogs(t *testing.T) {
	e := start(t)
	ref := e.upload(t)
	body := `{"runtime":"python","handler":"main.handler","code":{"sha256":"` + ref.SHA256 + `"}}`
	for _, fn := range []string{"logger", "quiet"} {
		if st, ed := e.do(t, "PUT", "/v1/functions/"+fn, body, nil); st != 201 {
			t.Fatalf("deploy: %d %+v", st, ed)
		}
	}
	now := time.Now()
	publishLog(t, e, "logger", "inv-1", "one", now)
	publishLog(t, e, "logger", "inv-2", "two", now)
	publishLog(t, e, "other", "inv-3", "not mine", now)
	publishLog(t, e, "logger", "inv-1", "three", now)

	get := func(query, accept string) (string, string) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/functions/logger/logs"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, out := get("", "")
	if ct != "application/x-ndjson" || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"message":"three"`) || strings.Contains(out, "not mine") {
		t.Fatalf("ndjson %s:\n%s", ct, out)
	}
	if _, out := get("?invocation=inv-2", ""); strings.Count(out, "\n") != 1 || !strings.Contains(out, `"two"`) {
		t.Fatalf("invocation filter:\n%s", out)
	}
	ct, out = get("", "text/event-stream")
	if ct != "text/event-stream" || strings.Count(out, "data: ") != 3 || !strings.Contains(out, "\n\n") {
		t.Fatalf("sse %s:\n%s", ct, out)
	}
	if _, out := get("?since=soon", ""); !strings.Contains(out, "since") {
		t.Fatalf("bad since: %s", out)
	}
	// A function without lines answers at once with nothing.
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/functions/quiet/logs", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("quiet: %d %q", resp.StatusCode, b)
	}
}

func TestLogsFollow(t *testing.T) {
	e := start(t)
	ref := e.upload(t)
	body := `{"runtime":"python","handler":"main.handler","code":{"sha256":"` + ref.SHA256 + `"}}`
	if st, ed := e.do(t, "PUT", "/v1/functions/tail", body, nil); st != 201 {
		t.Fatalf("deploy: %d %+v", st, ed)
	}
	publishLog(t, e, "tail", "a", "before", time.Now())
	want := followLogs(t, e, "tail")
	want("before")
	publishLog(t, e, "tail", "b", "after", time.Now())
	want("after")
}

// TestChangesAnswerAfterTheViewHasThem: every deploy, alias change and delete answers only once the
// view that serves invocations in the same process resolves what it wrote.
func TestChangesAnswerAfterTheViewHasThem(t *testing.T) {
	bus := bustest.Start(t)
	reg, err := registry.New(bus.JS, runtimes(t), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	view, err := directory.Open(context.Background(), bus.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(view.Close)
	r := mux.NewRouter()
	api.New(reg, bus.JS, view, nil).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{bus: bus, srv: srv}
	ctx := context.Background()
	for n := 1; n <= 15; n++ {
		body := fmt.Sprintf(`{"runtime":"python","handler":"main.handler","inline":{"file":"main.py","content":"def handler(e, c):\n    return %d\n"}}`, n)
		if st, ed := e.do(t, "PUT", "/v1/functions/f", body, nil); st != 201 {
			t.Fatalf("deploy %d: %d %+v", n, st, ed)
		}
		if v, err := view.Resolve(ctx, "f", ""); err != nil || v.Version != n {
			t.Fatalf("right after deploy %d the view resolves version %d (%v)", n, v.Version, err)
		}
		if st, ed := e.do(t, "PUT", "/v1/functions/f/aliases/live", fmt.Sprintf(`{"version":%d}`, n), nil); st != 200 {
			t.Fatalf("alias to %d: %d %+v", n, st, ed)
		}
		if v, err := view.Resolve(ctx, "f", "live"); err != nil || v.Version != n {
			t.Fatalf("right after the alias moved to %d the view resolves version %d (%v)", n, v.Version, err)
		}
	}
	if st, ed := e.do(t, "DELETE", "/v1/functions/f", "", nil); st != 204 {
		t.Fatalf("delete: %d %+v", st, ed)
	}
	if _, err := view.Resolve(ctx, "f", ""); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("right after delete the view resolves: %v, want not found", err)
	}
}
