package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
)

const goodManifest = `# two functions
functions:
  - name: hello
    runtime: python
    handler: main.handler
    code:
      source: ./hello
    memory: 256
    timeout: 10s
    env: {GREETING: hi, PORT: 8080}
    max: 3
    retries: 0
    maxEventAge: 30m
    onSuccess: function:hello
    onFailure: nats:alerts
    public: true
    description: says hi
    triggers:
      - cron: "*/5 * * * *"
        tz: Europe/Paris
      - http: /hello
        method: POST
  - name: inline
    runtime: python
    handler: main.handler
    code:
      inline: |
        def handler(event, context):
            return "inline"
    triggers:
      - queue: nats://127.0.0.1:4222/orders
        batchSize: 25
        reportBatchItemFailures: true
  - name: zipped
    runtime: python
    handler: main.handler
    code: {zip: code.zip}
    triggers:
      - cloudevents: "*"
        sourcePrefix: /shop/
`

func TestManifestDeploy(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "hello"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "hello", "main.py"), []byte(echoPy), 0o644)
	z, _ := archive.FromFile("main.py", []byte(echoPy))
	_ = os.WriteFile(filepath.Join(dir, "code.zip"), z, 0o644)
	manifest := filepath.Join(dir, "sluice.yaml")
	_ = os.WriteFile(manifest, []byte(goodManifest), 0o644)

	r := s.ok(t, "deploy", "-f", manifest)
	for _, want := range []string{"deployed hello version 1", "deployed inline version 1", "deployed zipped version 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("manifest deploy: %s", r)
		}
	}
	if !strings.Contains(r.stdout, "trigger hello-cron-1: cron */5 * * * * (Europe/Paris)") || !strings.Contains(r.stdout, "trigger hello-http-2: http POST /r/hello") {
		t.Fatalf("manifest triggers: %s", r)
	}
	if got := s.ok(t, "trigger", "list", "hello").stdout; !strings.Contains(got, "hello-cron-1") || !strings.Contains(got, "hello-http-2") {
		t.Fatalf("trigger list: %s", got)
	}
	var queued []wire.TriggerView
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "inline", "-o", "json").stdout), &queued); err != nil || len(queued) != 1 ||
		queued[0].Trigger.Queue.Batching == nil || *queued[0].Trigger.Queue.Batching != (events.Batch{Size: 25, ReportItemFailures: true}) {
		t.Fatalf("manifest queue trigger: %v %+v", err, queued)
	}
	var subs []wire.TriggerView
	if err := json.Unmarshal([]byte(s.ok(t, "trigger", "list", "zipped", "-o", "json").stdout), &subs); err != nil || len(subs) != 1 ||
		subs[0].Trigger.ID != "zipped-cloudevents-1" || *subs[0].Trigger.CloudEvents != (events.CloudEventsSpec{SourcePrefix: "/shop/"}) {
		t.Fatalf("manifest cloudevents trigger: %v %+v", err, subs)
	}
	// Deployed again without the http trigger: the cron one is replaced in place, the http one goes.
	_ = os.WriteFile(manifest, []byte(strings.Replace(goodManifest, "      - http: /hello\n        method: POST\n", "", 1)), 0o644)
	if r := s.ok(t, "deploy", "-f", manifest, "hello"); !strings.Contains(r.stdout, "trigger hello-http-2 deleted") {
		t.Fatalf("manifest without a trigger: %s", r)
	}
	if got := s.ok(t, "trigger", "list", "-o", "json").stdout; strings.Count(got, `"id": "hello-`) != 1 {
		t.Fatalf("triggers after the second deploy: %s", got)
	}
	_ = os.WriteFile(manifest, []byte(goodManifest), 0o644)
	var d wire.FunctionDetail
	_ = json.Unmarshal([]byte(s.ok(t, "get", "hello", "-o", "json").stdout), &d)
	c := d.Version.Config
	if c.MemoryMB != 256 || c.Timeout.D().Seconds() != 10 || c.Env["PORT"] != "8080" || c.Max != 3 || c.Retries != 0 || !c.Public || c.Description != "says hi" ||
		c.MaxEventAge.D().Minutes() != 30 || c.OnSuccess != "function:hello" || c.OnFailure != "nats:alerts" {
		t.Fatalf("hello config = %+v", c)
	}
	if r := s.ok(t, "code", "inline", "main.py"); !strings.Contains(r.stdout, `return "inline"`) {
		t.Fatalf("inline code: %s", r)
	}
	// Only the named functions, from another working folder.
	wd, _ := os.Getwd()
	_ = os.Chdir(t.TempDir())
	defer func() { _ = os.Chdir(wd) }()
	r = s.ok(t, "deploy", "-f", manifest, "hello")
	if !strings.Contains(r.stdout, "deployed hello version 3") || strings.Contains(r.stdout, "inline") {
		t.Fatalf("deploy -f one: %s", r)
	}
	if r := s.fails(t, 2, "deploy", "-f", manifest, "nope"); !strings.Contains(r.stderr, "function nope is not in") {
		t.Fatalf("unknown name: %s", r)
	}
	if r := s.fails(t, 2, "deploy", "-f", manifest, "--memory", "512"); !strings.Contains(r.stderr, "--memory cannot be used with -f") {
		t.Fatalf("flag with -f: %s", r)
	}
	if r := s.ok(t, "deploy", "--help-manifest"); !strings.Contains(r.stdout, "functions:") {
		t.Fatalf("--help-manifest: %s", r)
	}
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "hello"), 0o755)
	cases := map[string]struct{ yaml, want string }{
		"unknown key": {"functions:\n  - name: a\n    runtime: python\n    handler: main.handler\n    memroy: 1\n    code: ./hello\n",
			`sluice.yaml:5: unknown key "memroy" in a function: use one of code, concurrency, description`},
		"unknown top key":  {"function:\n  - name: a\n", `sluice.yaml:1: unknown key "function" in the manifest: use one of functions`},
		"no functions":     {"functions: []\n", "sluice.yaml:1: 'functions' must list at least one function"},
		"empty":            {"", "empty manifest"},
		"not yaml":         {"functions: [\n", "sluice.yaml: yaml:"},
		"no name":          {"functions:\n  - runtime: python\n    handler: h.h\n    code: ./hello\n", "sluice.yaml:2: a function without a name"},
		"bad name":         {"functions:\n  - name: Bad\n    runtime: python\n    handler: h.h\n    code: ./hello\n", `sluice.yaml:2: function "Bad"`},
		"no code":          {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n", "sluice.yaml:2: function a: code is required"},
		"two codes":        {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: {source: ./hello, zip: x.zip}\n", "sluice.yaml:5: the code of a: give exactly one"},
		"unknown code key": {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: {folder: ./hello}\n", `sluice.yaml:5: unknown key "folder" in the code of a`},
		"bad url":          {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: {url: http://x/y.zip}\n", "use s3://bucket/key.zip"},
		"bad number":       {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    memory: lots\n", `sluice.yaml:6: memory: want a whole number, got "lots"`},
		"bad duration":     {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    timeout: soon\n", `sluice.yaml:6: timeout: want a duration`},
		"bad bool":         {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    public: yes\n", `sluice.yaml:6: public: want true or false`},
		"twice":            {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n", "sluice.yaml:6: function a is listed twice (first on line 2)"},
		"repeated key":     {"functions:\n  - name: a\n    name: b\n", `sluice.yaml:3: key "name" is given twice`},
		"trigger kind":     {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - every: 5m\n", "sluice.yaml:7: a trigger needs its kind"},
		"two kinds":        {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - cron: '* * * * *'\n        http: /x\n", "sluice.yaml:8: a trigger has one kind"},
		"trigger key":      {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - bucket: b\n        tz: UTC\n", `sluice.yaml:8: unknown key "tz" in a bucket trigger: use one of batchSize, batchWindow, bucket, endpoint, events, orderKey, prefix, reportBatchItemFailures, singleRecord, suffix`},
		"bucket events":    {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - bucket: b\n        events: [put, copy]\n", `sluice.yaml:8: bucket trigger events: "copy"`},
		"loader env":       {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    env:\n      GREETING: hi\n      LD_PRELOAD: /tmp/x.so\n", "sluice.yaml:8: environment variable LD_PRELOAD is not allowed: the dynamic loader reads it before the function runs"},
		"queue url":        {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - queue: kafka://x/y\n", "sluice.yaml:7: queue trigger"},
		"batch size":       {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - queue: nats://x/y\n        batchSize: 0\n", "sluice.yaml:7: queue trigger batchSize"},
		"batch window":     {"functions:\n  - name: a\n    runtime: python\n    handler: h.h\n    code: ./hello\n    triggers:\n      - queue: nats://x/y\n        batchWindow: soon\n", "sluice.yaml:7: queue trigger batchWindow"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseManifest(filepath.Join(dir, "sluice.yaml"), []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	fns, err := parseManifest(filepath.Join(dir, "sluice.yaml"), []byte(goodManifest))
	if err != nil || len(fns) != 3 || fns[0].code.source != filepath.Join(dir, "hello") || fns[2].code.zip != filepath.Join(dir, "code.zip") || len(fns[0].triggers) != 2 {
		t.Fatalf("good manifest = %+v, %v", fns, err)
	}
}
