package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// versionPy is a function that answers with its version's mark.
func versionPy(mark string) string {
	return fmt.Sprintf("def handler(event, context):\n    return %q\n", mark)
}

// TestVersionsAndAliases drives versions, aliases, a canary, version deletes and an inline edit
// through the CLI, the invocation API and function URLs.
func TestVersionsAndAliases(t *testing.T) {
	n := newSite(t).start(t)
	for _, mark := range []string{"v1", "v2", "v3"} {
		deployInline(t, n, "ver", versionPy(mark), "--public")
	}
	r := n.ok(t, "versions", "ver")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 4 ||
		!regexp.MustCompile(`^VERSION\s+CREATED\s+RUNTIME\s+CODE\s+BUILD$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^3 \(latest\)\s+\S+ \S+\s+python\s+[0-9a-f]{12} `).MatchString(lines[3]) {
		t.Fatalf("versions:\n%s", r.stdout)
	}

	n.ok(t, "alias", "set", "ver", "prod", "2")
	for q, want := range map[string]string{"ver": `"v3"`, "ver:prod": `"v2"`, "ver:1": `"v1"`, "ver:latest": `"v3"`} {
		if got := n.ok(t, "invoke", q).lastLine(); got != want {
			t.Errorf("invoke %s = %s, want %s", q, got, want)
		}
	}
	if r := n.sluice(t, "invoke", "ver:nope"); r.code != 1 || !strings.Contains(r.stderr, `"nope"`) {
		t.Errorf("invoke of an unknown alias: %s", r)
	}
	// The invocation API's ?qualifier= and the function URL's NAME:ALIAS, each saying which
	// version ran.
	resp := n.request(t, http.MethodPost, "/v1/functions/ver/invocations?qualifier=prod", []byte(`{}`), false)
	if resp.status != 200 || string(resp.body) != `"v2"` || resp.header.Get("X-Sluice-Version") != "2" {
		t.Fatalf("invocations?qualifier=prod: %d %s %v", resp.status, resp.body, resp.header)
	}
	resp = n.request(t, http.MethodGet, "/fn/ver:prod/hello", nil, true)
	if resp.status != 200 || string(resp.body) != `"v2"` || resp.header.Get("X-Sluice-Version") != "2" {
		t.Fatalf("/fn/ver:prod: %d %s %v", resp.status, resp.body, resp.header)
	}
	resp = n.request(t, http.MethodGet, "/fn/ver:1", nil, true)
	if resp.status != 200 || string(resp.body) != `"v1"` || resp.header.Get("X-Sluice-Version") != "1" {
		t.Fatalf("/fn/ver:1: %d %s", resp.status, resp.body)
	}
	if resp = n.request(t, http.MethodGet, "/fn/ver:gone", nil, true); resp.status != 404 {
		t.Fatalf("/fn/ver:gone: %d %s", resp.status, resp.body)
	}

	// A canary: half of live's invocations run version 3. Over 40 calls both versions run (the
	// chance that one never does is 2^-39), and the header always names the version that ran.
	n.ok(t, "alias", "set", "ver", "live", "2", "--weight", "3=50")
	ran := map[string]int{}
	for range 40 {
		resp := n.request(t, http.MethodPost, "/v1/functions/ver/invocations?qualifier=live", []byte(`{}`), false)
		v := resp.header.Get("X-Sluice-Version")
		if resp.status != 200 || string(resp.body) != `"v`+v+`"` {
			t.Fatalf("canary call: %d %s, X-Sluice-Version %q", resp.status, resp.body, v)
		}
		ran[v]++
	}
	if len(ran) != 2 || ran["2"] == 0 || ran["3"] == 0 {
		t.Fatalf("a 50%% canary over 40 calls ran %v", ran)
	}
	if r := n.ok(t, "alias", "list", "ver"); !regexp.MustCompile(`(?m)^live\s+2\s+3 \(50%\)`).MatchString(r.stdout) {
		t.Fatalf("alias list:\n%s", r.stdout)
	}

	// Deleting versions: refused while an alias or the head needs them.
	if r := n.sluice(t, "delete", "ver:2"); r.code != 1 || !strings.Contains(r.stderr, "used by alias live, prod") {
		t.Fatalf("delete ver:2: %s", r)
	}
	resp = n.request(t, http.MethodDelete, "/v1/functions/ver/versions/3", nil, false)
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(resp.body, &eb); err != nil || resp.status != 409 || eb.Error.Code != "version_in_use" || !strings.Contains(eb.Error.Message, "is the latest") {
		t.Fatalf("DELETE versions/3: %d %s", resp.status, resp.body)
	}
	n.ok(t, "delete", "ver:1")
	if r := n.sluice(t, "invoke", "ver:1"); r.code != 1 || !strings.Contains(r.stderr, "version") {
		t.Fatalf("invoke of a deleted version: %s", r)
	}
	n.ok(t, "alias", "delete", "ver", "live")
	n.ok(t, "alias", "set", "ver", "prod", "3")
	n.ok(t, "delete", "ver:2")
	if r := n.ok(t, "versions", "ver", "-o", "json"); strings.Count(r.stdout, `"function": "ver"`) != 1 {
		t.Fatalf("versions after deletes: %s", r.stdout)
	}

	// An inline edit makes version 4 from version 3's package; the alias stays on 3.
	body := `{"file":"main.py","content":` + jsonString(versionPy("v4 edited")) + `}`
	resp = n.request(t, http.MethodPut, "/v1/functions/ver/code", []byte(body), false)
	if resp.status != 201 || !strings.Contains(string(resp.body), `"version":4`) {
		t.Fatalf("PUT code: %d %s", resp.status, resp.body)
	}
	if got := n.ok(t, "invoke", "ver").lastLine(); got != `"v4 edited"` {
		t.Fatalf("latest after the edit = %s", got)
	}
	if got := n.ok(t, "invoke", "ver:prod").lastLine(); got != `"v3"` {
		t.Fatalf("prod after the edit = %s", got)
	}
	resp = n.request(t, http.MethodGet, "/v1/functions/ver/code?file=main.py", nil, false)
	if resp.status != 200 || !strings.Contains(string(resp.body), "v4 edited") {
		t.Fatalf("GET code?file: %d %s", resp.status, resp.body)
	}
	resp = n.request(t, http.MethodGet, "/v1/functions/ver/code", nil, false)
	if resp.status != 200 || !strings.Contains(string(resp.body), `"path":"main.py"`) {
		t.Fatalf("GET code: %d %s", resp.status, resp.body)
	}
}

// TestManifest deploys two functions from a manifest and invokes them.
func TestManifest(t *testing.T) {
	n := newSite(t).start(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "greeter"), 0o755); err != nil {
		t.Fatal(err)
	}
	greeter := "import os\n\n\ndef handler(event, context):\n    return os.environ['GREETING'] + ' ' + event['name']\n"
	if err := os.WriteFile(filepath.Join(dir, "greeter", "main.py"), []byte(greeter), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `functions:
  - name: greeter
    runtime: python
    handler: main.handler
    code: {source: greeter}
    env: {GREETING: Hello}
    timeout: 10s
    triggers:
      - cron: "@every 1m"
  - name: shout
    runtime: python
    handler: main.handler
    code:
      inline: |
        def handler(event, context):
            return event["text"].upper()
`
	file := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	r := n.ok(t, "deploy", "-f", file)
	if !strings.Contains(r.stdout, "deployed greeter version 1") || !strings.Contains(r.stdout, "deployed shout version 1") || !strings.Contains(r.stdout, "trigger greeter-cron-1: cron @every 1m") {
		t.Fatalf("deploy -f: %s", r)
	}
	if got := n.ok(t, "invoke", "greeter", "--data", `{"name":"Ada"}`).lastLine(); got != `"Hello Ada"` {
		t.Fatalf("greeter = %s", got)
	}
	if got := n.ok(t, "invoke", "shout", "--data", `{"text":"hi"}`).lastLine(); got != `"HI"` {
		t.Fatalf("shout = %s", got)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(manifest, "timeout:", "timeuot:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := n.sluice(t, "deploy", "-f", file); r.code != 2 || !strings.Contains(r.stderr, `sluice.yaml:7: unknown key "timeuot"`) {
		t.Fatalf("manifest with a typo: %s", r)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
