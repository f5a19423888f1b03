package instance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkColdInvoke measures, interleaved in one run per runtime, a bare interpreter start
// (python3 -c pass, node -e 0, exec'd and waited for), a cold invocation on a process started
// for the function (Start + Invoke), and a cold invocation on a pre-started process (Specialize
// + Invoke; the Prestart before it is not timed, as a pool does it ahead), all of a hello
// handler. It reports p50 and
// p99 of each and the ratios of the p50s to the bare start (docs/design.md §10, P3 and P4).
func BenchmarkColdInvoke(b *testing.B) {
	cat := newCatalog(b)
	bare := map[string][]string{"python": {"-c", "pass"}, "nodejs": {"-e", "0"}}
	hello := map[string]string{"python": "pyhello", "nodejs": "nodehello"}
	for _, fx := range suite {
		b.Run(fx.runtime, func(b *testing.B) {
			interp := cat.Interpreter(fx.runtime)
			ctx := context.Background()
			slots := b.TempDir()
			var tBare, tScratch, tPool, tInit []time.Duration
			for n := range b.N {
				t0 := time.Now()
				if err := exec.Command(interp, bare[fx.runtime]...).Run(); err != nil {
					b.Fatal(err)
				}
				tBare = append(tBare, time.Since(t0))

				cfg := config(b, fx, "handler")
				cfg.CodeDir, cfg.Handler = testdata(b, hello[fx.runtime]), "hello.handler"
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
				w, err := Prestart(ctx, cat, PrestartConfig{ID: "warm", Runtime: fx.runtime, SlotDir: slot})
				if err != nil {
					b.Fatal(err)
				}
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
			b.ReportMetric(ms(pct(tBare, 99)), "bare-p99-ms")
			b.ReportMetric(ms(pScratch), "scratch-p50-ms")
			b.ReportMetric(ms(pct(tScratch, 99)), "scratch-p99-ms")
			b.ReportMetric(ms(pPool), "pool-p50-ms")
			b.ReportMetric(ms(pct(tPool, 99)), "pool-p99-ms")
			b.ReportMetric(ms(pct(tInit, 50)), "pool-init-p50-ms")
			b.ReportMetric(float64(pPool)/float64(pBare), "pool/bare")
			b.ReportMetric(float64(pScratch)/float64(pBare), "scratch/bare")
		})
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkFillSlot measures putting a code package of 200 small files into a slot folder by
// hard links (same file system) and by copies (another file system, when /dev/shm exists).
func BenchmarkFillSlot(b *testing.B) {
	src := b.TempDir()
	for n := range 200 {
		dir := filepath.Join(src, fmt.Sprintf("pkg%d", n%10))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d.py", n)), make([]byte, 4096), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, where := range []string{"link", "copy"} {
		b.Run(where, func(b *testing.B) {
			base := b.TempDir()
			if where == "copy" {
				d, err := os.MkdirTemp("/dev/shm", "slots-")
				if err != nil {
					b.Skip("no /dev/shm")
				}
				b.Cleanup(func() { _ = os.RemoveAll(d) })
				base = d
			}
			n := 0
			for b.Loop() {
				dst := filepath.Join(base, fmt.Sprint(n))
				n++
				if err := os.Mkdir(dst, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := fillSlot(src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
