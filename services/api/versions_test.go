package api_test

import (
	"strings"
	"testing"

	"sluice.dev/events"
	"sluice.dev/services/api"
	"sluice.dev/services/api/wire"
)

func (e *env) deployN(t *testing.T, name string, n int) {
	t.Helper()
	ref := e.upload(t)
	body := `{"runtime":"python","handler":"main.handler","code":{"sha256":"` + ref.SHA256 + `"}}`
	for range n {
		if st, ed := e.do(t, "PUT", "/v1/functions/"+name, body, nil); st != 201 {
			t.Fatalf("deploy %s: %d %+v", name, st, ed)
		}
	}
}

func TestAliasesAndVersions(t *testing.T) {
	e := start(t)
	e.deployN(t, "fn", 4)

	var al wire.AliasInfo
	if st, ed := e.do(t, "PUT", "/v1/functions/fn/aliases/live", `{"version":3,"additional":{"version":4,"weight":0.1}}`, &al); st != 200 {
		t.Fatalf("set alias: %d %+v", st, ed)
	}
	if al.Name != "live" || al.Version != 3 || al.Additional == nil || al.Additional.Version != 4 || al.Additional.Weight != 0.1 {
		t.Fatalf("alias = %+v", al)
	}
	if st, ed := e.do(t, "PUT", "/v1/functions/fn/aliases/prod", `{"version":2}`, nil); st != 200 {
		t.Fatalf("set prod: %d %+v", st, ed)
	}
	var list struct{ Aliases []wire.AliasInfo }
	if st, _ := e.do(t, "GET", "/v1/functions/fn/aliases", "", &list); st != 200 || len(list.Aliases) != 2 || list.Aliases[0].Name != "live" || list.Aliases[1].Version != 2 {
		t.Fatalf("aliases: %d %+v", st, list)
	}
	if st, _ := e.do(t, "GET", "/v1/functions/fn/aliases/prod", "", &al); st != 200 || al.Version != 2 {
		t.Fatalf("get alias: %d %+v", st, al)
	}
	var v events.Version
	if st, _ := e.do(t, "GET", "/v1/functions/fn/versions/2", "", &v); st != 200 || v.Version != 2 {
		t.Fatalf("get version: %d %+v", st, v)
	}

	cases := []struct {
		name, method, path, body, code, msg string
		status                              int
	}{
		{"alias of a missing version", "PUT", "/v1/functions/fn/aliases/x", `{"version":9}`, api.CodeVersionNotFound, "no version 9", 404},
		{"alias without version", "PUT", "/v1/functions/fn/aliases/x", `{}`, api.CodeInvalid, `"version"`, 400},
		{"bad weight", "PUT", "/v1/functions/fn/aliases/x", `{"version":1,"additional":{"version":2,"weight":10}}`, api.CodeInvalid, "weight 10", 400},
		{"numeric alias", "PUT", "/v1/functions/fn/aliases/7", `{"version":1}`, api.CodeInvalid, "alias name", 400},
		{"unknown field", "PUT", "/v1/functions/fn/aliases/x", `{"version":1,"weights":{}}`, api.CodeInvalid, "unknown field", 400},
		{"alias of a missing function", "PUT", "/v1/functions/nope/aliases/x", `{"version":1}`, api.CodeVersionNotFound, "no version 1", 404},
		{"get missing alias", "GET", "/v1/functions/fn/aliases/nope", "", api.CodeAliasNotFound, `no alias "nope"`, 404},
		{"delete missing alias", "DELETE", "/v1/functions/fn/aliases/nope", "", api.CodeAliasNotFound, `no alias "nope"`, 404},
		{"delete aliased version", "DELETE", "/v1/functions/fn/versions/3", "", api.CodeVersionInUse, "used by alias live", 409},
		{"delete canary version", "DELETE", "/v1/functions/fn/versions/4", "", api.CodeVersionInUse, "latest", 409},
		{"delete prod version", "DELETE", "/v1/functions/fn/versions/2", "", api.CodeVersionInUse, "alias prod", 409},
		{"delete missing version", "DELETE", "/v1/functions/fn/versions/9", "", api.CodeVersionNotFound, "no version 9", 404},
		{"bad version", "DELETE", "/v1/functions/fn/versions/x", "", api.CodeInvalid, `version "x"`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ed := e.do(t, tc.method, tc.path, tc.body, nil)
			if st != tc.status || ed.Code != tc.code || !strings.Contains(ed.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %d %s with %q", st, ed, tc.status, tc.code, tc.msg)
			}
		})
	}

	if st, ed := e.do(t, "DELETE", "/v1/functions/fn/versions/1", "", nil); st != 204 {
		t.Fatalf("delete version 1: %d %+v", st, ed)
	}
	if st, ed := e.do(t, "DELETE", "/v1/functions/fn/aliases/prod", "", nil); st != 204 {
		t.Fatalf("delete alias: %d %+v", st, ed)
	}
	if st, ed := e.do(t, "DELETE", "/v1/functions/fn/versions/2", "", nil); st != 204 {
		t.Fatalf("delete version 2 once unaliased: %d %+v", st, ed)
	}
	var vs struct{ Versions []events.Version }
	if st, _ := e.do(t, "GET", "/v1/functions/fn/versions", "", &vs); st != 200 || len(vs.Versions) != 2 || vs.Versions[0].Version != 3 {
		t.Fatalf("versions: %d %+v", st, vs)
	}
}

func TestInlineEdit(t *testing.T) {
	e := start(t)
	e.deployN(t, "ed", 1)
	var files wire.CodeFiles
	if st, ed := e.do(t, "GET", "/v1/functions/ed/code", "", &files); st != 200 || files.Version != 1 || len(files.Files) != 1 || files.Files[0].Path != "main.py" || files.Files[0].Size == 0 {
		t.Fatalf("files: %d %+v %+v", st, ed, files)
	}
	var f wire.CodeFile
	if st, _ := e.do(t, "GET", "/v1/functions/ed/code?file=main.py", "", &f); st != 200 || !strings.Contains(f.Content, "return e") || f.Encoding != "" {
		t.Fatalf("file: %d %+v", st, f)
	}
	var v events.Version
	body := `{"file":"main.py","content":"def handler(e, c):\n    return 2\n","version":1}`
	if st, ed := e.do(t, "PUT", "/v1/functions/ed/code", body, &v); st != 201 || v.Version != 2 || v.Origin != "edit of main.py on version 1" {
		t.Fatalf("edit: %d %+v %+v", st, ed, v)
	}
	if st, _ := e.do(t, "GET", "/v1/functions/ed/code?file=main.py", "", &f); st != 200 || f.Version != 2 || !strings.Contains(f.Content, "return 2") {
		t.Fatalf("edited file: %d %+v", st, f)
	}
	if st, _ := e.do(t, "GET", "/v1/functions/ed/code?file=main.py&version=1", "", &f); st != 200 || f.Version != 1 || !strings.Contains(f.Content, "return e") {
		t.Fatalf("version 1's file: %d %+v", st, f)
	}
	bin := `{"file":"data.bin","content":"\u00ff"}`
	if st, ed := e.do(t, "PUT", "/v1/functions/ed/code", bin, nil); st != 201 {
		t.Fatalf("add a file: %d %+v", st, ed)
	}
	if st, _ := e.do(t, "GET", "/v1/functions/ed/code?file=data.bin", "", &f); st != 200 || f.Content != "\u00ff" {
		t.Fatalf("utf-8 file: %d %+v", st, f)
	}

	cases := []struct {
		name, method, path, body, code, msg string
		status                              int
	}{
		{"stale version", "PUT", "/v1/functions/ed/code", body, "conflict", "latest is 3", 409},
		{"slip", "PUT", "/v1/functions/ed/code", `{"file":"../x.py","content":""}`, api.CodeInvalid, "..", 400},
		{"absolute", "PUT", "/v1/functions/ed/code", `{"file":"/etc/x","content":""}`, api.CodeInvalid, "is absolute", 400},
		{"no file", "PUT", "/v1/functions/ed/code", `{"content":"x"}`, api.CodeInvalid, "give the file", 400},
		{"unknown function", "PUT", "/v1/functions/nope/code", `{"file":"main.py","content":""}`, api.CodeFunctionNotFound, "deploy it first", 404},
		{"too large", "PUT", "/v1/functions/ed/code", `{"file":"main.py","content":"` + strings.Repeat("x", 2<<20+1) + `"}`, api.CodeInvalid, "limit of one edited file", 400},
		{"missing file", "GET", "/v1/functions/ed/code?file=nope.py", "", api.CodeFileNotFound, "nope.py is not in version 3", 404},
		{"unsafe read", "GET", "/v1/functions/ed/code?file=../../etc/passwd", "", api.CodeInvalid, "climbs out", 400},
		{"bad version", "GET", "/v1/functions/ed/code?version=zero", "", api.CodeInvalid, `version "zero"`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ed := e.do(t, tc.method, tc.path, tc.body, nil)
			if st != tc.status || ed.Code != tc.code || !strings.Contains(ed.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %d %s with %q", st, ed, tc.status, tc.code, tc.msg)
			}
		})
	}
}
