package api_test

import (
	"net"
	"strings"
	"testing"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/api"
	"sluice.dev/services/archive"
	"sluice.dev/services/codeurl"
	"sluice.dev/services/registry"
)

func urlDeploy(url string) string {
	return `{"runtime":"python","handler":"main.handler","code":{"url":"` + url + `"}}`
}

func TestDeployFromCodeURL(t *testing.T) {
	srv := testkit.StartMinIO(t)
	z, _ := archive.FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	srv.Put(t, "code", "hello.zip", z)
	srv.Put(t, "code", "notazip.zip", []byte("hello"))
	store := func(secret string) *codeurl.Store {
		s, err := codeurl.New(s3conf.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: secret})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e := start(t, registry.WithFetcher(store(srv.SecretKey)))

	var v events.Version
	if st, ed := e.do(t, "PUT", "/v1/functions/pulled", urlDeploy("s3://code/hello.zip"), &v); st != 201 {
		t.Fatalf("deploy from s3: %d %+v", st, ed)
	}
	if v.Version != 1 || v.Origin != "s3://code/hello.zip" || v.Code.Size != int64(len(z)) {
		t.Fatalf("version = %+v", v)
	}
	cases := []struct {
		name, body, code, msg string
		status                int
	}{
		{"missing object", urlDeploy("s3://code/missing.zip"), api.CodeCodeURLNotFound, "no object s3://code/missing.zip", 404},
		{"missing bucket", urlDeploy("s3://nobucket/x.zip"), api.CodeCodeURLNotFound, "bucket nobucket does not exist", 404},
		{"not a zip", urlDeploy("s3://code/notazip.zip"), api.CodeBadArchive, "not a zip", 400},
		{"not s3", urlDeploy("https://example.com/x.zip"), api.CodeInvalid, "use s3://bucket/key.zip", 400},
		{"url and sha", `{"runtime":"python","handler":"main.handler","code":{"url":"s3://code/hello.zip","sha256":"` + v.Code.SHA256 + `"}}`, api.CodeInvalid, "exactly one", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ed := e.do(t, "PUT", "/v1/functions/f", tc.body, nil)
			if st != tc.status || ed.Code != tc.code || !strings.Contains(ed.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %d %s with %q", st, ed, tc.status, tc.code, tc.msg)
			}
		})
	}

	denied := start(t, registry.WithFetcher(store("not-the-secret")))
	if st, ed := denied.do(t, "PUT", "/v1/functions/f", urlDeploy("s3://code/hello.zip"), nil); st != 502 || ed.Code != api.CodeCodeURLDenied || !strings.Contains(ed.Message, "access denied") {
		t.Fatalf("bad credentials: %d %+v", st, ed)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	gone, _ := codeurl.New(s3conf.Config{Endpoint: addr})
	unreachable := start(t, registry.WithFetcher(gone))
	if st, ed := unreachable.do(t, "PUT", "/v1/functions/f", urlDeploy("s3://code/hello.zip"), nil); st != 502 || ed.Code != api.CodeCodeURLUnreached || !strings.Contains(ed.Message, addr) {
		t.Fatalf("unreachable: %d %+v", st, ed)
	}
}

func TestCodeURLWithoutObjectStorage(t *testing.T) {
	e := start(t)
	st, ed := e.do(t, "PUT", "/v1/functions/f", urlDeploy("s3://code/hello.zip"), nil)
	if st != 400 || ed.Code != api.CodeNoObjectStorage || !strings.Contains(ed.Message, "SLUICE_S3_ENDPOINT") {
		t.Fatalf("no object storage: %d %+v", st, ed)
	}
}
