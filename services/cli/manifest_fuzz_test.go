package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// FuzzParseManifest reads any document as a manifest: a refusal is a usage error naming the
// file, and an accepted manifest lists uniquely and validly named functions, each with a runtime,
// a handler, exactly one code source, allowed environment names and triggers that make valid
// specs with manifest trigger ids.
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		const file = "project/sluice.yaml"
		fns, err := parseManifest(file, doc)
		if err != nil {
			var u usageError
			if !errors.As(err, &u) || !strings.HasPrefix(err.Error(), file) {
				t.Fatalf("error %q is not a usage error naming the file", err)
			}
			return
		}
		if len(fns) == 0 {
			t.Fatal("an accepted manifest without functions")
		}
		seen := map[string]bool{}
		for _, fn := range fns {
			if events.ValidateName(fn.name) != nil || seen[fn.name] {
				t.Fatalf("function name %q (seen: %v)", fn.name, seen[fn.name])
			}
			seen[fn.name] = true
			if fn.req.Runtime == "" || fn.req.Handler == "" || fn.code.runtime != fn.req.Runtime || fn.code.handler != fn.req.Handler {
				t.Fatalf("function %s: runtime %q, handler %q", fn.name, fn.req.Runtime, fn.req.Handler)
			}
			given := 0
			for _, s := range []string{fn.code.source, fn.code.zip, fn.code.jar, fn.code.inline, fn.code.codeURL} {
				if s != "" {
					given++
				}
			}
			if given != 1 {
				t.Fatalf("function %s: %d code sources: %+v", fn.name, given, fn.code)
			}
			if fn.code.codeURL != "" && (!strings.HasPrefix(fn.code.codeURL, "s3://") || fn.req.Code == nil || fn.req.Code.URL != fn.code.codeURL) {
				t.Fatalf("function %s: code url %q, request %+v", fn.name, fn.code.codeURL, fn.req.Code)
			}
			for k := range fn.req.Env {
				if err := instance.CheckEnvName(k); err != nil {
					t.Fatalf("function %s: environment %q accepted: %v", fn.name, k, err)
				}
			}
			if _, err := json.Marshal(fn.req); err != nil {
				t.Fatalf("function %s: the deploy request does not encode: %v", fn.name, err)
			}
			for i, tr := range fn.triggers {
				spec := tr.spec(fn.name, i+1)
				if err := spec.Validate(); err != nil {
					t.Fatalf("function %s: trigger %d: %v", fn.name, i+1, err)
				}
				if !isManifestTriggerID(fn.name, spec.ID) {
					t.Fatalf("function %s: trigger id %q", fn.name, spec.ID)
				}
				if spec.Cron != nil && len(spec.Cron.Data) > 0 && !json.Valid(spec.Cron.Data) {
					t.Fatalf("function %s: cron data %q", fn.name, spec.Cron.Data)
				}
				if _, err := json.Marshal(spec); err != nil {
					t.Fatalf("function %s: trigger %d does not encode: %v", fn.name, i+1, err)
				}
			}
		}
	})
}
