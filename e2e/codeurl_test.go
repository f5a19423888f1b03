package e2e

import (
	"archive/zip"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"sluice.dev/events/testkit"
)

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
	m := testkit.StartMinIO(t)
	m.Put(t, "code", "hello/v1.zip", zipOf(t, "main.py", "def handler(event, context):\n    return {'from': 's3', 'event': event}\n"))
	m.Put(t, "code", "readme.txt", []byte("not a zip"))

	n := newSite(t).start(t, "--s3-endpoint", "http://"+m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey)
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

	denied := newSite(t).start(t, "--s3-endpoint", m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", "not-the-secret")
	if r := denied.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, "access denied") {
		t.Errorf("wrong secret: %s", r)
	}
	closed := freeAddr(t) // nothing listens there
	gone := newSite(t).start(t, "--s3-endpoint", closed, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey)
	if r := gone.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, closed) || !strings.Contains(r.stderr, "does not answer") {
		t.Errorf("unreachable endpoint: %s", r)
	}
	none := newSite(t).start(t)
	if r := none.sluice(t, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/hello/v1.zip"); r.code != 1 || !strings.Contains(r.stderr, "no object storage configured") {
		t.Errorf("no object storage: %s", r)
	}
}
