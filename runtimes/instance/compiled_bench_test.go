package instance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
)

// bareHello compiles a hello program for runtime in dir and returns the command that runs it:
// java -cp dir Hello, mono dir/hello.exe.
func bareHello(b *testing.B, cat *catalog.Catalog, runtime, dir string) []string {
	b.Helper()
	interp := cat.Interpreter(runtime)
	var compile *exec.Cmd
	var run []string
	switch runtime {
	case "java":
		src := filepath.Join(dir, "Hello.java")
		if err := os.WriteFile(src, []byte("public class Hello { public static void main(String[] a) { System.out.println(\"hello\"); } }\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		compile = exec.Command(filepath.Join(filepath.Dir(mustReal(b, interp)), "javac"), "-d", dir, src)
		run = []string{interp, "-cp", dir, "Hello"}
	case "dotnet":
		src := filepath.Join(dir, "hello.cs")
		if err := os.WriteFile(src, []byte("public static class Hello { public static void Main() { System.Console.WriteLine(\"hello\"); } }\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		exe := filepath.Join(dir, "hello.exe")
		compile = exec.Command(filepath.Join(filepath.Dir(mustReal(b, interp)), "mcs"), "-out:"+exe, src)
		run = []string{interp, exe}
	}
	if out, err := compile.CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	return run
}

func mustReal(b *testing.B, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkCompiledColdInvoke is BenchmarkColdInvoke for java and dotnet: a bare hello program
// (java -cp DIR Hello, mono hello.exe), a cold invocation on a process started for the function,
// and one on a pre-started process (Specialize + Invoke), interleaved.
func BenchmarkCompiledColdInvoke(b *testing.B) {
	cat := newCatalog(b)
	for _, rt := range compiledSuite {
		b.Run(rt.runtime, func(b *testing.B) {
			bare := bareHello(b, cat, rt.runtime, b.TempDir())
			var c coldTimes
			for range b.N {
				cfg := compiledConfig(b, cat, rt, "fn-"+rt.runtime, "hello")
				// The pre-started process waits as a pool's does: the JIT's background work done.
				c.round(b, cat, bare, cfg, PrestartConfig{ID: "warm", Runtime: rt.runtime, InitTimeout: slowStart}, 100*time.Millisecond)
			}
			c.report(b)
		})
	}
}
