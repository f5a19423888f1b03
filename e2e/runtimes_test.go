package e2e

import (
	"archive/zip"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sluice.dev/events"
)

// TestRuntimes deploys the java, dotnet and php examples from their folders, as `go tool task up`
// does (the Java and C# sources are compiled at deploy), and invokes each sync through the CLI
// and its function URL, and async.
func TestRuntimes(t *testing.T) {
	n := newSite(t).start(t)
	for _, rt := range []struct{ runtime, example, built string }{
		{"java", "java-hello", "javac"},
		{"dotnet", "dotnet-hello", ""},
		{"php", "php-hello", ""},
	} {
		t.Run(rt.runtime, func(t *testing.T) {
			dir := exampleDir(t, rt.example)
			r := n.ok(t, append([]string{"deploy", rt.example, "--source", dir}, exampleArgs(t, dir)...)...)
			if rt.built != "" {
				wantContains(t, "deploy shows the build", r.stdout+r.stderr, rt.built)
			}

			r = n.ok(t, "invoke", rt.example, "--data", `{"name":"Ada"}`)
			var got struct{ Message, Runtime string }
			if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &got); err != nil || got.Message != "Hello, Ada!" || got.Runtime != rt.runtime {
				t.Fatalf("invoke %s: %q (%v), want Hello, Ada! from %s", rt.example, r.stdout, err, rt.runtime)
			}

			u := n.request(t, http.MethodPost, "/fn/"+rt.example, []byte(`{"name":"Cy"}`), false, "Content-Type", "application/json")
			if u.status != http.StatusOK {
				t.Fatalf("POST /fn/%s: %d %s", rt.example, u.status, u.body)
			}
			wantContains(t, "/fn/"+rt.example, string(u.body), "Hello, Cy!")

			id := n.ok(t, "invoke", rt.example, "--async", "--data", `{"name":"Bea"}`).lastLine()
			res := waitInvocation(t, n, id)
			if res.Status != events.StatusSucceeded || res.Outcome != events.OutcomeOK {
				t.Fatalf("async %s: status %s outcome %s error %v", rt.example, res.Status, res.Outcome, res.Error)
			}
			wantContains(t, "async result", string(res.Payload), "Hello, Bea!")

			logs := n.ok(t, "logs", rt.example, "--since", "5m")
			wantContains(t, "logs", logs.stdout, "saying hello to Ada")
		})
	}
}

// exampleDir is the absolute folder of examples/NAME.
func exampleDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// exampleArgs are the deploy flags in an example folder's deploy.args.
func exampleArgs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "deploy.args"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestJavaJAR deploys a JAR built with the JDK's own tools (javac, then a zip of the classes) with
// --jar: the classes run as uploaded.
func TestJavaJAR(t *testing.T) {
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("the e2e tests need a JDK: %v", err)
	}
	src, classes := t.TempDir(), t.TempDir()
	code := `package plain;

import java.util.Map;

public class Upper {
    public static Map<String, Object> handleRequest(Map<String, Object> event) {
        return Map.of("upper", String.valueOf(event.get("text")).toUpperCase());
    }
}
`
	if err := os.WriteFile(filepath.Join(src, "Upper.java"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", classes, filepath.Join(src, "Upper.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	jar := filepath.Join(t.TempDir(), "upper.jar")
	f, err := os.Create(jar)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("plain/Upper.class")
	if err != nil {
		t.Fatal(err)
	}
	class, err := os.ReadFile(filepath.Join(classes, "plain", "Upper.class"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(class); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	n := newSite(t).start(t)
	n.ok(t, "deploy", "upper", "--runtime", "java", "--handler", "plain.Upper", "--jar", jar)
	r := n.ok(t, "invoke", "upper", "--data", `{"text":"shout"}`)
	wantContains(t, "invoke upper", r.stdout, `"upper":"SHOUT"`)
}
