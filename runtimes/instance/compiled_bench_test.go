package instance

import (
	"context"
	"fmt"
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
	for _, c := range compiledSuite {
		b.Run(c.runtime, func(b *testing.B) {
			bare := bareHello(b, cat, c.runtime, b.TempDir())
			ctx := context.Background()
			slots := b.TempDir()
			var tBare, tScratch, tPool, tInit []time.Duration
			for n := range b.N {
				t0 := time.Now()
				if err := exec.Command(bare[0], bare[1:]...).Run(); err != nil {
					b.Fatal(err)
				}
				tBare = append(tBare, time.Since(t0))

				cfg := compiledConfig(b, cat, c, "fn-"+c.runtime, "hello")
				t0 = time.Now()
				i, err := Start(ctx, cat, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := i.Invoke(ctx, Request{ID: "cold", Payload: []byte(`{}`)}); err != nil {
					b.Fatal(err)
				}
				tScratch = append(tScratch, time.Since(t0))
				_ = i.Close()

				slot := filepath.Join(slots, fmt.Sprint(n))
				if err := os.Mkdir(slot, 0o755); err != nil {
					b.Fatal(err)
				}
				w, err := Prestart(ctx, cat, PrestartConfig{ID: "warm", Runtime: c.runtime, SlotDir: slot, InitTimeout: slowStart})
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // as a pool's process waits: the JIT's background work is done
				t0 = time.Now()
				if err := w.Specialize(ctx, cfg); err != nil {
					b.Fatal(err)
				}
				if _, err := w.Invoke(ctx, Request{ID: "cold", Payload: []byte(`{}`)}); err != nil {
					b.Fatal(err)
				}
				tPool = append(tPool, time.Since(t0))
				tInit = append(tInit, w.InitDuration())
				_ = w.Close()
			}
			pBare, pScratch, pPool := pct(tBare, 50), pct(tScratch, 50), pct(tPool, 50)
			b.ReportMetric(ms(pBare), "bare-p50-ms")
			b.ReportMetric(ms(pScratch), "scratch-p50-ms")
			b.ReportMetric(ms(pPool), "pool-p50-ms")
			b.ReportMetric(ms(pct(tPool, 99)), "pool-p99-ms")
			b.ReportMetric(ms(pct(tInit, 50)), "pool-init-p50-ms")
			b.ReportMetric(float64(pPool)/float64(pBare), "pool/bare")
			b.ReportMetric(float64(pScratch)/float64(pBare), "scratch/bare")
		})
	}
}
