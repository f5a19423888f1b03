package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

const manifestHelp = `A manifest (sluice.yaml) lists functions to deploy with 'sluice deploy -f sluice.yaml':

  functions:
    - name: hello                 # required, as for sluice deploy NAME
      runtime: python             # required
      handler: main.handler       # required
      code:                       # exactly one of:
        source: ./hello           #   a folder, relative to the manifest
        # zip: build/hello.zip    #   a ZIP file, relative to the manifest
        # jar: target/fn.jar      #   a Java JAR, relative to the manifest
        # inline: |               #   the source of a one-file function
        #   def handler(event, context): return event
        # url: s3://code/hello.zip  a ZIP in object storage, fetched by the node
      # code: ./hello             # (a folder may also be given as a plain string)
      memory: 256                 # MB
      timeout: 30s
      idleTimeout: 60s
      env: {GREETING: hello}
      min: 0
      max: 10
      concurrency: 1
      retries: 2
      maxEventAge: 6h             # an async event waiting longer is dead-lettered unrun
      onSuccess: function:audit   # where async outcomes go: function:NAME, nats:SUBJECT
      onFailure: nats:alerts      #   (and dlq for failures, which are dead-lettered anyway)
      public: false               # true: the function URL takes calls without the token
      publicAsync: false          # true (with public): asynchronous ones too
      description: says hello
      triggers:                   # set up with the function (see below)
        - cron: "*/5 * * * *"
          tz: Europe/Paris
          data: '{"job": "sweep"}'
          catchUp: true
        - bucket: uploads
          events: [put, delete]
          prefix: in/
          suffix: .jpg
          batchSize: 50             # up to 50 object events an invocation (and batchWindow, as below)
        - queue: nats://127.0.0.1:4222/orders
          batchSize: 100            # up to 100 messages an invocation, as {"Records": [...]}
          batchWindow: 1s           # the first waits at most this long for more
          reportBatchItemFailures: true
        - queue: jetstream://127.0.0.1:4222/PAYMENTS
          orderKey: header:Customer-Id  # one customer's payments run one at a time, in order
        - cloudevents: com.shop.order.paid   # CloudEvents sent to the node; * for any type
          sourcePrefix: /shop/                # and typePrefix, typeSuffix, source, sourceSuffix,
          subjectPrefix: orders/              #   subject, subjectSuffix
        - http: /hello/{who}
          method: POST
          public: true
          cors: [https://example.com]

Every key is checked: a misspelt or unknown key is an error with its line. Every function's
code is packaged before anything is deployed, so a manifest with a mistake deploys nothing.
Triggers are set up once their function is deployed, with the ids FUNCTION-KIND-N (N counts
from 1 in the manifest's order), so deploying the manifest again replaces them in place; a
function's manifest triggers that the manifest no longer lists are deleted.
`

// manifestFunction is one function of a manifest.
type manifestFunction struct {
	name     string
	line     int
	req      wire.DeployRequest
	code     deployFlags // the code fields only, paths made relative to the working folder
	triggers []manifestTrigger
}

// manifestTrigger is a trigger of a manifest function: its kind and settings, checked but not
// set up.
type manifestTrigger struct {
	line   int
	kind   string // cron, bucket, queue, http or cloudevents
	fields map[string]string
}

// deployManifest deploys the functions of the manifest f.manifest (or only those named).
func (a *app) deployManifest(cmd *cobra.Command, f deployFlags, names []string) error {
	for _, fl := range []string{"runtime", "handler", "source", "zip", "jar", "inline", "code-url", "memory", "timeout", "env", "min", "max", "concurrency", "idle-timeout", "retries", "public", "public-async", "description", "max-event-age", "on-success", "on-failure"} {
		if cmd.Flags().Changed(fl) {
			return usagef("--%s cannot be used with -f: put the setting in the manifest", fl)
		}
	}
	b, err := os.ReadFile(f.manifest)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	fns, err := parseManifest(f.manifest, b)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		var picked []manifestFunction
		for _, n := range names {
			i := slices.IndexFunc(fns, func(m manifestFunction) bool { return m.name == n })
			if i < 0 {
				return usagef("function %s is not in %s", n, f.manifest)
			}
			picked = append(picked, fns[i])
		}
		fns = picked
	}
	zips := make([][]byte, len(fns))
	for i, fn := range fns {
		if zips[i], err = packageCode(fn.code); err != nil {
			return fmt.Errorf("%s:%d: function %s: %w", f.manifest, fn.line, fn.name, err)
		}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	for i, fn := range fns {
		if err := a.send(cmd.Context(), c, fn.name, fn.req, zips[i]); err != nil {
			return fmt.Errorf("function %s: %w", fn.name, err)
		}
		if err := a.setTriggers(cmd.Context(), c, f.manifest, fn); err != nil {
			return fmt.Errorf("function %s: %w", fn.name, err)
		}
	}
	return nil
}

// parseManifest reads a manifest; file names the errors' source. Paths of code are made relative
// to the manifest's folder.
func parseManifest(file string, b []byte) ([]manifestFunction, error) {
	p := &manifestParser{file: file, dir: filepath.Dir(file)}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, usageError{fmt.Errorf("%s: %w", file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, usageError{fmt.Errorf("%s: empty manifest: list functions under 'functions:' (sluice deploy --help-manifest)", file)}
	}
	var fnsNode *yaml.Node
	err := p.fields(doc.Content[0], "the manifest", map[string]func(*yaml.Node) error{
		"functions": func(n *yaml.Node) error { fnsNode = n; return nil },
	})
	if err != nil {
		return nil, err
	}
	if fnsNode == nil || fnsNode.Kind != yaml.SequenceNode || len(fnsNode.Content) == 0 {
		line := doc.Content[0].Line
		if fnsNode != nil {
			line = fnsNode.Line
		}
		return nil, p.errorf(line, "'functions' must list at least one function (- name: ..., runtime: ..., handler: ..., code: ...)")
	}
	var out []manifestFunction
	seen := map[string]int{}
	for _, n := range fnsNode.Content {
		fn, err := p.function(n)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[fn.name]; ok {
			return nil, p.errorf(fn.line, "function %s is listed twice (first on line %d)", fn.name, prev)
		}
		seen[fn.name] = fn.line
		out = append(out, fn)
	}
	return out, nil
}

type manifestParser struct {
	file, dir string
}

func (p *manifestParser) errorf(line int, format string, args ...any) error {
	return usageError{fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))}
}

// fields walks a mapping, calling each key's setter; unknown and repeated keys are errors.
func (p *manifestParser) fields(n *yaml.Node, what string, set map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errorf(n.Line, "%s must be a mapping of keys to values", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := set[k.Value]
		if !ok {
			return p.errorf(k.Line, "unknown key %q in %s: use one of %s", k.Value, what, strings.Join(slices.Sorted(mapKeys(set)), ", "))
		}
		if seen[k.Value] {
			return p.errorf(k.Line, "key %q is given twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (p *manifestParser) str(dst *string, key string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return p.errorf(n.Line, "%s: want a string", key)
		}
		*dst = n.Value
		return nil
	}
}

func (p *manifestParser) num(dst *int, key string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return p.errorf(n.Line, "%s: want a whole number, got %q", key, n.Value)
		}
		*dst = v
		return nil
	}
}

func (p *manifestParser) dur(dst *events.Duration, key string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		d, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return p.errorf(n.Line, "%s: want a duration such as 30s or 5m, got %q", key, n.Value)
		}
		*dst = events.Duration(d)
		return nil
	}
}

func (p *manifestParser) boolean(dst *bool, key string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || (n.Value != "true" && n.Value != "false") {
			return p.errorf(n.Line, "%s: want true or false, got %q", key, n.Value)
		}
		*dst = n.Value == "true"
		return nil
	}
}

// path resolves a file or folder of the manifest relative to its folder.
func (p *manifestParser) path(dst *string, key string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if err := p.str(dst, key)(n); err != nil {
			return err
		}
		if *dst == "" {
			return p.errorf(n.Line, "%s: empty path", key)
		}
		if !filepath.IsAbs(*dst) {
			*dst = filepath.Join(p.dir, *dst)
		}
		return nil
	}
}

func (p *manifestParser) function(n *yaml.Node) (manifestFunction, error) {
	fn := manifestFunction{line: n.Line}
	r := &fn.req
	name := ""
	var codeNode *yaml.Node
	err := p.fields(n, "a function", map[string]func(*yaml.Node) error{
		"name":        p.str(&name, "name"),
		"runtime":     p.str(&r.Runtime, "runtime"),
		"handler":     p.str(&r.Handler, "handler"),
		"code":        func(c *yaml.Node) error { codeNode = c; return nil },
		"memory":      p.num(&r.MemoryMB, "memory"),
		"timeout":     p.dur(&r.Timeout, "timeout"),
		"idleTimeout": p.dur(&r.IdleTimeout, "idleTimeout"),
		"min":         p.num(&r.Min, "min"),
		"max":         p.num(&r.Max, "max"),
		"concurrency": p.num(&r.Concurrency, "concurrency"),
		"public":      p.boolean(&r.Public, "public"),
		"publicAsync": p.boolean(&r.PublicAsync, "publicAsync"),
		"description": p.str(&r.Description, "description"),
		"maxEventAge": p.dur(&r.MaxEventAge, "maxEventAge"),
		"onSuccess":   p.str(&r.OnSuccess, "onSuccess"),
		"onFailure":   p.str(&r.OnFailure, "onFailure"),
		"retries": func(v *yaml.Node) error {
			var n int
			if err := p.num(&n, "retries")(v); err != nil {
				return err
			}
			r.Retries = &n
			return nil
		},
		"env": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return p.errorf(v.Line, "env: want a mapping of NAME: value")
			}
			r.Env = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				if val.Kind != yaml.ScalarNode {
					return p.errorf(val.Line, "env %s: want a plain value", k.Value)
				}
				if err := instance.CheckEnvName(k.Value); err != nil {
					return p.errorf(k.Line, "%v", err)
				}
				r.Env[k.Value] = val.Value
			}
			return nil
		},
		"triggers": func(v *yaml.Node) error {
			if v.Kind != yaml.SequenceNode {
				return p.errorf(v.Line, "triggers: want a list (- cron: ..., - bucket: ..., - queue: ..., - http: ..., - cloudevents: ...)")
			}
			for _, t := range v.Content {
				tr, err := p.trigger(t)
				if err != nil {
					return err
				}
				fn.triggers = append(fn.triggers, tr)
			}
			return nil
		},
	})
	if err != nil {
		return fn, err
	}
	switch {
	case name == "":
		return fn, p.errorf(n.Line, "a function without a name: add name: ...")
	case events.ValidateName(name) != nil:
		return fn, p.errorf(n.Line, "function %q: %v", name, events.ValidateName(name))
	case r.Runtime == "" || r.Handler == "":
		return fn, p.errorf(n.Line, "function %s: runtime and handler are required", name)
	case codeNode == nil:
		return fn, p.errorf(n.Line, "function %s: code is required (code: {source: ./folder} or zip, jar, inline, url)", name)
	}
	fn.code.runtime, fn.code.handler = r.Runtime, r.Handler
	if err := p.code(codeNode, name, &fn.code); err != nil {
		return fn, err
	}
	if fn.code.codeURL != "" {
		r.Code = &wire.CodeSource{URL: fn.code.codeURL}
	}
	fn.name = name
	return fn, nil
}

func (p *manifestParser) code(n *yaml.Node, name string, f *deployFlags) error {
	runtime, handler := f.runtime, f.handler
	if n.Kind == yaml.ScalarNode {
		if err := p.path(&f.source, "code")(n); err != nil {
			return err
		}
	} else {
		err := p.fields(n, "the code of "+name, map[string]func(*yaml.Node) error{
			"source": p.path(&f.source, "source"),
			"zip":    p.path(&f.zip, "zip"),
			"jar":    p.path(&f.jar, "jar"),
			"inline": p.str(&f.inline, "inline"),
			"url":    p.str(&f.codeURL, "url"),
		})
		if err != nil {
			return err
		}
	}
	given := 0
	for _, s := range []string{f.source, f.zip, f.jar, f.inline, f.codeURL} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return p.errorf(n.Line, "the code of %s: give exactly one of source, zip, jar, inline and url", name)
	}
	if f.codeURL != "" && !strings.HasPrefix(f.codeURL, "s3://") {
		return p.errorf(n.Line, "the code of %s: url %q: use s3://bucket/key.zip", name, f.codeURL)
	}
	f.runtime, f.handler = runtime, handler
	return nil
}

// trigger kinds and the keys each takes besides its own.
var triggerKeys = map[string][]string{
	"cron":   {"tz", "data", "catchUp"},
	"bucket": {"events", "prefix", "suffix", "endpoint", "singleRecord", "batchSize", "batchWindow", "reportBatchItemFailures", "orderKey"},
	"queue":  {"batchSize", "batchWindow", "reportBatchItemFailures", "orderKey"},
	"http":   {"method", "public", "cors"},
	// cloudevents: TYPE ("*" for any), and the other filters.
	"cloudevents": {"typePrefix", "typeSuffix", "source", "sourcePrefix", "sourceSuffix", "subject", "subjectPrefix", "subjectSuffix"},
}

func (p *manifestParser) trigger(n *yaml.Node) (manifestTrigger, error) {
	t := manifestTrigger{line: n.Line, fields: map[string]string{}}
	if n.Kind != yaml.MappingNode {
		return t, p.errorf(n.Line, "a trigger must be a mapping: cron, bucket, queue, http or cloudevents, and its settings")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, ok := triggerKeys[n.Content[i].Value]; ok {
			if t.kind != "" {
				return t, p.errorf(n.Content[i].Line, "a trigger has one kind: %s and %s are both given", t.kind, n.Content[i].Value)
			}
			t.kind = n.Content[i].Value
		}
	}
	if t.kind == "" {
		return t, p.errorf(n.Line, "a trigger needs its kind: cron: EXPR, bucket: NAME, queue: URL, http: PATH or cloudevents: TYPE")
	}
	set := map[string]func(*yaml.Node) error{}
	for _, k := range append([]string{t.kind}, triggerKeys[t.kind]...) {
		set[k] = func(v *yaml.Node) error {
			if (k == "events" || k == "cors") && v.Kind == yaml.SequenceNode {
				var evs []string
				for _, e := range v.Content {
					if k == "events" && e.Value != "put" && e.Value != "delete" {
						return p.errorf(e.Line, "bucket trigger events: %q: use put or delete", e.Value)
					}
					evs = append(evs, e.Value)
				}
				t.fields[k] = strings.Join(evs, ",")
				return nil
			}
			var s string
			if err := p.str(&s, t.kind+" trigger "+k)(v); err != nil {
				return err
			}
			t.fields[k] = s
			return nil
		}
	}
	if err := p.fields(n, "a "+t.kind+" trigger", set); err != nil {
		return t, err
	}
	switch v := t.fields[t.kind]; t.kind {
	case "queue":
		scheme, _, _ := strings.Cut(v, "://")
		if scheme != "nats" && scheme != "jetstream" && scheme != "amqp" {
			return t, p.errorf(n.Line, "queue trigger %q: use nats://HOST:PORT/SUBJECT, jetstream://HOST:PORT/STREAM or amqp://USER:PASS@HOST:PORT/QUEUE", v)
		}
	case "http":
		if !strings.HasPrefix(v, "/") {
			return t, p.errorf(n.Line, "http trigger %q: the path starts with /", v)
		}
	case "cron":
		if len(strings.Fields(v)) < 5 && !strings.HasPrefix(v, "@") {
			return t, p.errorf(n.Line, "cron trigger %q: use five fields (min hour day month weekday), six with seconds, or @every DUR", v)
		}
		if d, ok := t.fields["data"]; ok && !json.Valid([]byte(d)) {
			return t, p.errorf(n.Line, "cron trigger data %q is not JSON", d)
		}
	}
	if v, ok := t.fields["orderKey"]; ok {
		if _, err := events.ParseOrderKey(v); err != nil {
			return t, p.errorf(n.Line, "%s trigger orderKey %q: use header:NAME, routing-key, subject:N or object-key", t.kind, v)
		}
	}
	if v, ok := t.fields["batchSize"]; ok {
		if size, err := strconv.Atoi(v); err != nil || size < 1 || size > events.MaxBatchSize {
			return t, p.errorf(n.Line, "%s trigger batchSize %q: a number from 1 to %d", t.kind, v, events.MaxBatchSize)
		}
	}
	if v, ok := t.fields["batchWindow"]; ok {
		if d, err := time.ParseDuration(v); err != nil || d < 0 || d > events.MaxBatchWindow {
			return t, p.errorf(n.Line, "%s trigger batchWindow %q: a duration such as 500ms, at most %s", t.kind, v, events.MaxBatchWindow)
		}
	}
	for _, k := range []string{"catchUp", "public", "reportBatchItemFailures"} {
		if v, ok := t.fields[k]; ok && v != "true" && v != "false" {
			return t, p.errorf(n.Line, "%s trigger %s: %q: use true or false", t.kind, k, v)
		}
	}
	return t, nil
}

// batching is the batch a trigger's keys ask for, nil when none.
func (t manifestTrigger) batching() *events.Batch {
	f := t.fields
	if f["batchSize"] == "" && f["batchWindow"] == "" && f["reportBatchItemFailures"] != "true" {
		return nil
	}
	size, _ := strconv.Atoi(f["batchSize"]) // checked when parsed
	window, _ := time.ParseDuration(f["batchWindow"])
	return &events.Batch{Size: cmp.Or(size, 10), Window: events.Duration(window), ReportItemFailures: f["reportBatchItemFailures"] == "true"}
}

// spec is the trigger spec of the n-th (from 1) trigger of function fn.
func (t manifestTrigger) spec(fn string, n int) events.Trigger {
	f := t.fields
	var list = func(k string) []string {
		if f[k] == "" {
			return nil
		}
		return strings.Split(f[k], ",")
	}
	spec := events.Trigger{Function: fn}
	switch t.kind {
	case "cron":
		spec.Kind = events.TriggerCron
		spec.Cron = &events.CronSpec{Expr: f["cron"], TZ: f["tz"], CatchUp: f["catchUp"] == "true"}
		if f["data"] != "" {
			spec.Cron.Data = []byte(f["data"])
		}
	case "bucket":
		spec.Kind = events.TriggerStorage
		spec.Storage = &events.StorageSpec{Bucket: f["bucket"], Events: list("events"), Prefix: f["prefix"], Suffix: f["suffix"], Endpoint: f["endpoint"],
			SingleRecord: f["singleRecord"] == "true", Batching: t.batching(), OrderKey: f["orderKey"]}
	case "queue":
		spec.Kind = events.TriggerQueue
		spec.Queue = &events.QueueSpec{URL: f["queue"], Batching: t.batching(), OrderKey: f["orderKey"]}
	case "cloudevents":
		spec.Kind = events.TriggerCloudEvents
		spec.CloudEvents = &events.CloudEventsSpec{Type: f["cloudevents"], TypePrefix: f["typePrefix"], TypeSuffix: f["typeSuffix"],
			Source: f["source"], SourcePrefix: f["sourcePrefix"], SourceSuffix: f["sourceSuffix"],
			Subject: f["subject"], SubjectPrefix: f["subjectPrefix"], SubjectSuffix: f["subjectSuffix"]}
		if spec.CloudEvents.Type == "*" {
			spec.CloudEvents.Type = ""
		}
	case "http":
		spec.Kind = events.TriggerHTTP
		spec.HTTP = &events.HTTPSpec{Path: f["http"], Method: strings.ToUpper(f["method"]), Public: f["public"] == "true", CORS: list("cors")}
	}
	spec.ID = fmt.Sprintf("%s-%s-%d", fn, spec.Kind, n)
	return spec
}

// setTriggers stores the triggers of a manifest function and deletes its manifest triggers
// (ids FUNCTION-KIND-N) that the manifest no longer lists.
func (a *app) setTriggers(ctx context.Context, c *client.Client, file string, fn manifestFunction) error {
	keep := map[string]bool{}
	for i, t := range fn.triggers {
		spec := t.spec(fn.name, i+1)
		if _, err := c.AddTrigger(ctx, spec); err != nil {
			return fmt.Errorf("%s:%d: %s trigger: %w", file, t.line, t.kind, err)
		}
		keep[spec.ID] = true
		fmt.Fprintf(a.stdout, "trigger %s: %s %s\n", spec.ID, spec.Kind, triggerSource(spec))
	}
	existing, err := c.Triggers(ctx, fn.name)
	if err != nil {
		return err
	}
	for _, v := range existing {
		id := v.Trigger.ID
		if keep[id] || !isManifestTriggerID(fn.name, id) {
			continue
		}
		if err := c.DeleteTrigger(ctx, id); err != nil && !client.IsNotFound(err) {
			return err
		}
		fmt.Fprintf(a.stdout, "trigger %s deleted: no longer in %s\n", id, file)
	}
	return nil
}

// isManifestTriggerID reports whether id has the form FUNCTION-KIND-N of manifest triggers.
func isManifestTriggerID(fn, id string) bool {
	rest, ok := strings.CutPrefix(id, fn+"-")
	if !ok {
		return false
	}
	kind, n, ok := strings.Cut(rest, "-")
	if !ok || (kind != events.TriggerCron && kind != events.TriggerStorage && kind != events.TriggerQueue && kind != events.TriggerHTTP &&
		kind != events.TriggerCloudEvents) {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}
