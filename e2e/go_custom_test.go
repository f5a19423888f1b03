package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice.dev/events"
)

// TestGoAndCustom deploys the go example (built at deploy from source, with sluice's Go SDK)
// and the custom example (a shell bootstrap using curl), invokes both sync and async, and
// deploys Go code that does not compile.
func TestGoAndCustom(t *testing.T) {
	n := newSite(t).start(t)

	t.Run("go built at deploy", func(t *testing.T) {
		dir, err := filepath.Abs(filepath.Join("..", "examples", "go-hello"))
		if err != nil {
			t.Fatal(err)
		}
		args, err := os.ReadFile(filepath.Join(dir, "deploy.args"))
		if err != nil {
			t.Fatal(err)
		}
		// The host's first Go build also compiles the standard library its builds start from.
		ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
		defer cancel()
		r := n.sluiceCtx(ctx, t, append([]string{"deploy", "go-hello", "--source", dir}, strings.Fields(string(args))...)...)
		if r.code != 0 {
			t.Fatalf("want success, got %s", r)
		}
		wantContains(t, "deploy go-hello", r.stdout, "built in", "go build: bootstrap", "deployed go-hello version 1 (runtime go")
		r = n.ok(t, "invoke", "go-hello", "--data", `{"name":"Ada"}`)
		wantContains(t, "go-hello", r.stdout, `"message":"Hello, Ada!"`, `"runtime":"go"`)
		id := n.ok(t, "invoke", "go-hello", "--async", "--data", `{"name":"Bea"}`).lastLine()
		res := waitInvocation(t, n, id)
		if res.Status != events.StatusSucceeded {
			t.Fatalf("async go-hello: %s %s %v", res.Status, res.Outcome, res.Error)
		}
		wantContains(t, "async go-hello", string(res.Payload), "Hello, Bea!")
	})

	t.Run("custom shell bootstrap", func(t *testing.T) {
		deployExample(t, n, "custom-hello")
		r := n.ok(t, "invoke", "custom-hello", "--data", `{"name":"Cy"}`)
		wantContains(t, "custom-hello", r.stdout, `"message":"Hello, Cy!"`, `"runtime":"custom"`)
		id := n.ok(t, "invoke", "custom-hello", "--async", "--data", `{"name":"Dee"}`).lastLine()
		res := waitInvocation(t, n, id)
		if res.Status != events.StatusSucceeded {
			t.Fatalf("async custom-hello: %s %s %v", res.Status, res.Outcome, res.Error)
		}
		wantContains(t, "async custom-hello", string(res.Payload), "Hello, Dee!")
	})

	t.Run("go build failure", func(t *testing.T) {
		broken := "package main\n\nfunc main() {\n\tprintln(\"unclosed\"\n}\n"
		r := n.sluice(t, "deploy", "broken-go", "--runtime", "go", "--handler", "bootstrap", "--inline", broken)
		if r.code == 0 {
			t.Fatalf("a syntax error deployed: %s", r)
		}
		wantContains(t, "deploy broken-go", r.stderr, "main.go:4:", "syntax error")
		if r := n.sluice(t, "get", "broken-go"); r.code == 0 {
			t.Errorf("a function that did not build exists: %s", r)
		}
	})
}
