package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/runtimes/build"
)

// recorder is a Runner that keeps every Command it is handed and runs it for real with Direct.
type recorder struct {
	mu   sync.Mutex
	cmds []build.Command
}

func (r *recorder) Run(ctx context.Context, c build.Command) ([]byte, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	return build.Direct{}.Run(ctx, c)
}

func (r *recorder) take() []build.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmds := r.cmds
	r.cmds = nil
	return cmds
}

// envOf reads one variable of a Command's environment.
func envOf(c build.Command, key string) string {
	for _, kv := range c.Env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// write writes files (name → content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// processorJar builds, with the real javac, a jar holding an annotation evil.Mark and an
// annotation processor registered as a service, which writes marker and prints to stderr when
// it runs.
func processorJar(t *testing.T, c *Catalog, marker, jar string) {
	t.Helper()
	jc, err := javac(c.Interpreter("java"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, classes := filepath.Join(dir, "src"), filepath.Join(dir, "classes")
	write(t, src, map[string]string{
		"evil/Mark.java": "package evil;\npublic @interface Mark {}\n",
		"evil/Proc.java": `package evil;
import java.util.Set;
import javax.annotation.processing.*;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.TypeElement;
@SupportedAnnotationTypes("*")
public class Proc extends AbstractProcessor {
  public SourceVersion getSupportedSourceVersion() { return SourceVersion.latestSupported(); }
  public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
    try { java.nio.file.Files.writeString(java.nio.file.Path.of("` + marker + `"), "ran"); } catch (Exception e) {}
    System.err.println("ANNOTATION PROCESSOR RAN ON THE NODE");
    return false;
  }
}
`,
	})
	write(t, classes, map[string]string{"META-INF/services/javax.annotation.processing.Processor": "evil.Proc\n"})
	out, err := build.Direct{}.Run(context.Background(), build.Command{Path: jc, Dir: src,
		Args: []string{"-proc:none", "-d", classes, "evil/Mark.java", "evil/Proc.java"}, Env: toolEnv(jc, dir)})
	if err != nil {
		t.Fatalf("javac of the processor: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(jar), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := zipDir(classes, jar); err != nil {
		t.Fatal(err)
	}
}

// An annotation processor in a jar of the package never runs at deploy: the build compiles the
// source that uses its annotation, and neither the processor's file nor its message appears.
func TestJavaBuildRunsNoAnnotationProcessor(t *testing.T) {
	c := newCatalog(t, Options{})
	if err := c.Check("java"); err != nil {
		t.Fatalf("Check(java) = %v (the tests need a JDK)", err)
	}
	marker := filepath.Join(t.TempDir(), "processor-ran")
	src, dst := t.TempDir(), t.TempDir()
	processorJar(t, c, marker, filepath.Join(src, "lib", "annotation.jar"))
	write(t, src, map[string]string{"fn/Handler.java": "package fn;\n@evil.Mark\npublic class Handler { public String handle(String e) { return e; } }\n"})
	out, err := c.Build(context.Background(), "annotated", "java", "fn.Handler::handle", src, dst)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the annotation processor ran: its marker file exists")
	}
	if strings.Contains(string(out), "ANNOTATION PROCESSOR RAN") {
		t.Errorf("the processor's message reached the output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dst, "fn", "Handler.class")); err != nil {
		t.Errorf("no Handler.class: %v\n%s", err, out)
	}
}

// A source name that a toolchain would read as an option or an argument file is refused, the
// error naming it; a name with spaces and quotes is one source.
func TestOptionLikeNamesAreRefused(t *testing.T) {
	c := newCatalog(t, Options{})
	const hello = "public class Hello { public String handle(String e) { return e; } }\n"
	cases := []struct {
		runtime, handler, name, content string
	}{
		{"java", "Hello::handle", "-d x.java", "class X {}\n"},
		{"java", "Hello::handle", "@evil.java", "class X {}\n"},
		{"java", "Hello::handle", "-Xplugin:P/A.java", "class A {}\n"},
		{"dotnet", "N.F::X", "@evil.cs", "class X {}\n"},
		{"dotnet", "N.F::X", "-out:x.cs", "class X {}\n"},
	}
	for _, tc := range cases {
		src := t.TempDir()
		write(t, src, map[string]string{"Hello.java": hello, "F.cs": "namespace N { public class F { public string X(string e) { return e; } } }\n", tc.name: tc.content})
		out, err := c.Build(context.Background(), "names", tc.runtime, tc.handler, src, t.TempDir())
		if !errors.Is(err, ErrBuild) || !errors.Is(err, build.ErrOptionName) || !strings.Contains(err.Error(), strings.Split(tc.name, "/")[0]) {
			t.Errorf("%s build with %q = %v, want ErrBuild naming it\n%s", tc.runtime, tc.name, err, out)
		}
	}
	src, dst := t.TempDir(), t.TempDir()
	odd := "a \"quoted\" name\\with 'quotes'.java"
	write(t, src, map[string]string{"Hello.java": hello, odd: "class Odd {}\n"})
	if out, err := c.Build(context.Background(), "names", "java", "Hello::handle", src, dst); err != nil {
		t.Fatalf("build with %q: %v\n%s", odd, err, out)
	}
	if _, err := os.Stat(filepath.Join(dst, "Odd.class")); err != nil {
		t.Errorf("Odd.class not made: %v", err)
	}
}

// Every toolchain run of a build gets its own small environment, none of the node's: a secret
// of the node, JAVA_TOOL_OPTIONS or MONO_OPTIONS reach no build, and the Command lists the
// folders it reads and writes.
func TestBuildsSeeNoneOfTheNodesEnvironment(t *testing.T) {
	rec := &recorder{}
	c := newCatalog(t, Options{Runner: rec})
	t.Setenv("SLUICE_TEST_SECRET", "s3cr3t-of-the-node")
	t.Setenv("JAVA_TOOL_OPTIONS", "-Dsluice.secret=s3cr3t-of-the-node")
	t.Setenv("MONO_OPTIONS", "--version")
	allowed := []string{"PATH", "LANG", "HOME", "TMPDIR", "GOCACHE", "GOMODCACHE", "GOPATH", "GOOS", "GOARCH",
		"CGO_ENABLED", "GOFLAGS", "GOTOOLCHAIN", "GOWORK", "GOTELEMETRY", "GOENV", "GOPROXY", "GOSUMDB",
		"GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
		"http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"}
	builds := []struct {
		runtime, handler, tool string
		files                  map[string]string
		network                bool
	}{
		{"java", "Hello::handle", "javac", map[string]string{"Hello.java": "public class Hello { public String handle(String e) { return e; } }\n"}, false},
		{"dotnet", "N.F::X", "mcs", map[string]string{"F.cs": "namespace N { public class F { public string X(string e) { return e; } } }\n"}, false},
		{"go", "", "go", map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, true},
	}
	for _, b := range builds {
		src, dst := t.TempDir(), t.TempDir()
		write(t, src, b.files)
		out, err := c.Build(context.Background(), "env-"+b.runtime, b.runtime, b.handler, src, dst)
		if err != nil {
			t.Fatalf("%s build: %v\n%s", b.runtime, err, out)
		}
		if strings.Contains(string(out), "s3cr3t") || strings.Contains(string(out), "Picked up") || strings.Contains(string(out), "Mono JIT") {
			t.Errorf("%s build output shows the node's environment:\n%s", b.runtime, out)
		}
		if strings.Contains(string(out), src) || strings.Contains(string(out), dst) {
			t.Errorf("%s build output names the node's folders:\n%s", b.runtime, out)
		}
		if entries, _ := os.ReadDir(dst); len(entries) == 0 {
			t.Errorf("%s build made nothing:\n%s", b.runtime, out)
		}
		cmds := rec.take()
		if len(cmds) == 0 {
			t.Fatalf("%s build ran nothing through the runner", b.runtime)
		}
		for _, cmd := range cmds {
			for _, kv := range cmd.Env {
				k, _, _ := strings.Cut(kv, "=")
				if !slices.Contains(allowed, k) || strings.Contains(kv, "s3cr3t") {
					t.Errorf("%s command passes %s", b.runtime, kv)
				}
			}
			if seed := (Options{}).seedDir(); seed != "" && strings.HasPrefix(cmd.Dir, seed+string(filepath.Separator)) {
				// The host's first Go build makes its seed (package gobuild) in a folder of its own.
				for _, d := range cmd.Write {
					if !strings.HasPrefix(d, seed+string(filepath.Separator)) {
						t.Errorf("the Go seed's command writes %s, outside %s", d, seed)
					}
				}
				continue
			}
			if !filepath.IsAbs(cmd.Path) || filepath.Base(cmd.Path) != b.tool || cmd.Dir != src {
				t.Errorf("%s command %s in %s", b.runtime, cmd.Path, cmd.Dir)
			}
			if envOf(cmd, "LANG") != "C.UTF-8" || !strings.HasPrefix(envOf(cmd, "PATH"), filepath.Dir(cmd.Path)+":") || envOf(cmd, "HOME") == "" {
				t.Errorf("%s command env = %v", b.runtime, cmd.Env)
			}
			if !slices.Contains(cmd.Write, dst) || !slices.Contains(cmd.Write, envOf(cmd, "HOME")) {
				t.Errorf("%s command writes %v, want the output and its HOME", b.runtime, cmd.Write)
			}
			if b.runtime != "go" && (!slices.Contains(cmd.Read, src) || slices.Contains(cmd.Write, src)) {
				t.Errorf("%s command reads %v, writes %v: want the sources read-only", b.runtime, cmd.Read, cmd.Write)
			}
			if cmd.Network && !b.network {
				t.Errorf("%s command asks for the network", b.runtime)
			}
		}
		switch b.runtime {
		case "java":
			if !slices.Contains(cmds[0].Args, "-proc:none") || !slices.Contains(cmds[0].Args, "-implicit:none") {
				t.Errorf("javac args = %v", cmds[0].Args)
			}
		case "dotnet":
			args := cmds[0].Args
			if i := slices.Index(args, "--"); i < 0 || args[len(args)-1] != "F.cs" {
				t.Errorf("mcs args = %v, want the sources after --", args)
			}
		case "go":
			last := cmds[len(cmds)-1]
			if last.Args[0] != "build" || !last.Network {
				t.Errorf("go build = %v, network %v", last.Args, last.Network)
			}
		}
	}
}

// Two functions' Go builds keep separate build and module caches: neither can write the
// other's, and the SDK copy they share is read-only to both. (The node's own cache root, so
// that runs after the first are warm.)
func TestGoBuildCachesArePerFunction(t *testing.T) {
	rec := &recorder{}
	cache := Options{}.cacheDir()
	c := newCatalog(t, Options{Runner: rec})
	writes := map[string][]string{}
	gocache := map[string]string{}
	for _, fn := range []string{"cache-test-alpha", "cache-test-beta"} {
		src, dst := t.TempDir(), t.TempDir()
		write(t, src, map[string]string{
			"go.mod":  "module f\n\ngo 1.22\n\nrequire sluice.dev/sdk v0.0.0\n",
			"main.go": "package main\n\nimport sluice \"sluice.dev/sdk\"\n\nfunc main() { _ = sluice.FromContext }\n",
		})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		started := time.Now()
		out, err := c.Build(ctx, fn, "go", "", src, dst)
		cancel()
		t.Logf("%s: build in %s\n%s", fn, time.Since(started).Round(time.Millisecond), out)
		if err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
		for _, cmd := range rec.take() {
			writes[fn] = append(writes[fn], cmd.Write...)
			sdk := slices.IndexFunc(cmd.Read, func(d string) bool { return strings.HasPrefix(d, filepath.Join(cache, "go", "sdk")) })
			if cmd.Args[0] != "env" && (sdk < 0 || slices.Contains(cmd.Write, cmd.Read[sdk])) {
				t.Errorf("%s: go %v reads %v, writes %v: want the SDK copy read-only", fn, cmd.Args, cmd.Read, cmd.Write)
			}
			if gocache[fn] == "" {
				gocache[fn] = envOf(cmd, "GOCACHE")
			} else if envOf(cmd, "GOCACHE") != gocache[fn] {
				t.Errorf("%s: builds use GOCACHE %s and %s", fn, gocache[fn], envOf(cmd, "GOCACHE"))
			}
			if !slices.Contains(cmd.Write, envOf(cmd, "GOCACHE")) || !strings.HasPrefix(envOf(cmd, "GOMODCACHE"), envOf(cmd, "GOPATH")+"/") || !slices.Contains(cmd.Write, envOf(cmd, "GOPATH")) {
				t.Errorf("%s: env %v, writes %v", fn, cmd.Env, cmd.Write)
			}
		}
	}
	a, b := gocache["cache-test-alpha"], gocache["cache-test-beta"]
	if a == "" || a == b {
		t.Fatalf("GOCACHE %q and %q: want two folders", a, b)
	}
	for fn, other := range map[string]string{"cache-test-alpha": "cache-test-beta", "cache-test-beta": "cache-test-alpha"} {
		for _, w := range writes[fn] {
			if strings.HasPrefix(gocache[other], w) || strings.Contains(w, "/sdk") {
				t.Errorf("%s's build writes %s, which holds %s's cache or the SDK", fn, w, other)
			}
		}
	}
}

// The node's folders in a failing build's output are shown by neutral names: the package's
// as relative paths. (The node's own cache root, so that its seed is made once.)
func TestGoBuildOutputHidesTheNodesFolders(t *testing.T) {
	cache := Options{}.cacheDir() // the node's: its seed is made once
	c := newCatalog(t, Options{})
	src := t.TempDir()
	write(t, src, map[string]string{
		"go.mod":  "module f\n\ngo 1.22\n\nrequire other v0.0.0\n\nreplace other => ./missing\n",
		"main.go": "package main\n\nimport _ \"other\"\nimport _ \"fmt/nope\"\n\nfunc main() {}\n",
	})
	out, err := c.Build(context.Background(), "paths", "go", "", src, t.TempDir())
	if !errors.Is(err, ErrBuild) {
		t.Fatalf("build = %v\n%s", err, out)
	}
	if strings.Contains(string(out), cache) || strings.Contains(string(out), src) || !strings.Contains(string(out), "open missing/go.mod") {
		t.Errorf("output names the node's folders:\n%s", out)
	}
}

// BenchmarkGoBuild measures the build of a Go function using sluice's SDK on an empty cache of
// its own (a function's first deploy: the standard library packages it uses are compiled) and
// on a warm one (its next deploys).
//
//	go test -run '^$' -bench GoBuild -benchtime 3x ./catalog/
func BenchmarkGoBuild(b *testing.B) {
	c := New(Options{CacheDir: b.TempDir()})
	defer c.Close()
	files := map[string]string{
		"go.mod":  "module f\n\ngo 1.22\n\nrequire sluice.dev/sdk v0.0.0\n",
		"main.go": "package main\n\nimport sluice \"sluice.dev/sdk\"\n\nfunc main() { _ = sluice.FromContext }\n",
	}
	buildOnce := func(b *testing.B, function string) {
		b.StopTimer()
		src, dst := b.TempDir(), b.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if out, err := c.Build(context.Background(), function, "go", "", src, dst); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
	}
	n := 0
	b.Run("first", func(b *testing.B) {
		for range b.N {
			n++
			buildOnce(b, fmt.Sprintf("bench-%d", n))
		}
	})
	b.Run("warm", func(b *testing.B) {
		buildOnce(b, "bench-warm")
		b.ResetTimer()
		for range b.N {
			buildOnce(b, "bench-warm")
		}
	})
}
