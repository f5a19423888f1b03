package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sluice.dev/services/api/wire"
)

func TestVersionsAndAliases(t *testing.T) {
	s := newSite(t)
	for _, out := range []string{`"v1"`, `"v2"`, `"v3"`} {
		s.ok(t, "deploy", "fn", "--runtime", "python", "--handler", "main.handler", "--inline", "def handler(e, c):\n    return "+out+"\n")
	}
	r := s.ok(t, "versions", "fn")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^VERSION\s+CREATED\s+RUNTIME\s+CODE\s+BUILD$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+python\s+[0-9a-f]{12} \d+ B\s+-$`).MatchString(lines[1]) ||
		!strings.HasPrefix(lines[3], "3 (latest)") {
		t.Fatalf("versions:\n%s", r.stdout)
	}

	if r := s.ok(t, "alias", "set", "fn", "prod", "2"); r.stdout != "alias prod of fn -> version 2\n" {
		t.Fatalf("alias set: %s", r)
	}
	if r := s.ok(t, "alias", "set", "fn", "live", "2", "--weight", "3=10"); r.stdout != "alias live of fn -> version 2 (90%), version 3 (10%)\n" {
		t.Fatalf("alias set --weight: %s", r)
	}
	r = s.ok(t, "alias", "list", "fn")
	if !regexp.MustCompile(`(?m)^live\s+2\s+3 \(10%\)\s+\d{4}-`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^prod\s+2\s+-\s+\d{4}-`).MatchString(r.stdout) {
		t.Fatalf("alias list:\n%s", r.stdout)
	}
	var al []wire.AliasInfo
	if err := json.Unmarshal([]byte(s.ok(t, "alias", "list", "fn", "-o", "json").stdout), &al); err != nil || len(al) != 2 || al[0].Additional.Weight != 0.1 {
		t.Fatalf("alias list -o json: %+v %v", al, err)
	}
	if r := s.ok(t, "versions", "fn"); !strings.Contains(r.stdout, "2 (live, prod)") || !strings.Contains(r.stdout, "3 (latest, live 10%)") {
		t.Fatalf("versions with aliases:\n%s", r.stdout)
	}

	// The test's invocation endpoint echoes the event; the version that ran comes back in its
	// header, which --verbose prints.
	if r := s.ok(t, "invoke", "fn:prod", "--verbose"); !strings.HasPrefix(r.stderr, "fn version 2, invocation ") {
		t.Fatalf("invoke fn:prod: %s", r)
	}
	if r := s.ok(t, "invoke", "fn:1", "-v"); !strings.HasPrefix(r.stderr, "fn version 1, invocation ") {
		t.Fatalf("invoke fn:1: %s", r)
	}
	if r := s.fails(t, 2, "invoke", "fn:1", "--qualifier", "2"); !strings.Contains(r.stderr, "given twice") {
		t.Fatalf("two qualifiers: %s", r)
	}
	if r := s.fails(t, 1, "invoke", "fn:nope"); !strings.Contains(r.stderr, `no version or alias "nope"`) {
		t.Fatalf("unknown alias: %s", r)
	}

	if r := s.fails(t, 1, "delete", "fn:2"); !strings.Contains(r.stderr, "used by alias live, prod") {
		t.Fatalf("delete aliased version: %s", r)
	}
	if r := s.fails(t, 1, "delete", "fn:3"); !strings.Contains(r.stderr, "is the latest") {
		t.Fatalf("delete latest: %s", r)
	}
	if r := s.fails(t, 2, "delete", "fn:prod"); !strings.Contains(r.stderr, "sluice alias delete fn prod") {
		t.Fatalf("delete NAME:ALIAS: %s", r)
	}
	if r := s.ok(t, "delete", "fn:1"); r.stdout != "deleted fn version 1\n" {
		t.Fatalf("delete fn:1: %s", r)
	}
	if r := s.ok(t, "alias", "delete", "fn", "prod"); r.stdout != "deleted alias prod of fn\n" {
		t.Fatalf("alias delete: %s", r)
	}
	if r := s.fails(t, 1, "alias", "delete", "fn", "prod"); !strings.Contains(r.stderr, `no alias "prod"`) {
		t.Fatalf("second alias delete: %s", r)
	}
	for _, bad := range [][]string{
		{"alias", "set", "fn", "x", "two"},
		{"alias", "set", "fn", "x", "2", "--weight", "3"},
		{"alias", "set", "fn", "x", "2", "--weight", "3=100"},
		{"alias", "set", "fn", "x", "2", "--weight", "3=0"},
		{"alias", "set", "fn", "x"},
	} {
		s.fails(t, 2, bad...)
	}
	if r := s.fails(t, 1, "alias", "set", "fn", "x", "9"); !strings.Contains(r.stderr, "no version 9") {
		t.Fatalf("alias of a missing version: %s", r)
	}
	if r := s.ok(t, "alias", "--help"); !strings.Contains(r.stdout, "canary") || !strings.Contains(r.stdout, "set") {
		t.Fatalf("alias --help: %s", r)
	}
}

func TestCodeEdit(t *testing.T) {
	s := newSite(t)
	s.ok(t, "deploy", "ed", "--runtime", "python", "--handler", "main.handler", "--inline", echoPy)
	if r := s.ok(t, "code", "ed"); !regexp.MustCompile(`(?m)^main\.py\s+\d+ B$`).MatchString(r.stdout) {
		t.Fatalf("code list: %s", r)
	}
	if r := s.ok(t, "code", "ed", "main.py"); r.stdout != echoPy {
		t.Fatalf("code print: %s", r)
	}
	local := filepath.Join(t.TempDir(), "main.py")
	_ = os.WriteFile(local, []byte("def handler(e, c):\n    return 'edited'\n"), 0o644)
	if r := s.ok(t, "code", "ed", "main.py", "--put", local); !strings.HasPrefix(r.stdout, "deployed ed version 2 (edit of main.py on version 1, code sha256 ") {
		t.Fatalf("code --put: %s", r)
	}
	if r := s.ok(t, "code", "ed", "main.py"); !strings.Contains(r.stdout, "edited") {
		t.Fatalf("code after edit: %s", r)
	}
	if r := s.runIn(t.Context(), "X = 1\n", nil, "code", "ed", "lib/x.py", "--put", "-"); r.code != 0 {
		t.Fatalf("code --put -: %s", r)
	}
	if r := s.ok(t, "code", "ed", "main.py", "--version", "1"); r.stdout != echoPy {
		t.Fatalf("code --version 1: %s", r)
	}
	if r := s.fails(t, 1, "code", "ed", "../x", "--put", local); !strings.Contains(r.stderr, "climbs out") {
		t.Fatalf("unsafe edit: %s", r)
	}
	if r := s.fails(t, 1, "code", "ed", "nope.py"); !strings.Contains(r.stderr, "nope.py is not in version 3") {
		t.Fatalf("missing file: %s", r)
	}
	s.fails(t, 2, "code", "ed", "--put", local)
}

func TestDeployCodeURLWithoutObjectStorage(t *testing.T) {
	s := newSite(t)
	r := s.fails(t, 1, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/f.zip")
	if !strings.Contains(r.stderr, "no object storage configured on this node") || !strings.Contains(r.stderr, "--s3-endpoint") {
		t.Fatalf("code url without s3: %s", r)
	}
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "http://x/f.zip")
	s.fails(t, 2, "deploy", "f", "--runtime", "python", "--handler", "main.handler", "--code-url", "s3://code/f.zip", "--inline", "x")
}
