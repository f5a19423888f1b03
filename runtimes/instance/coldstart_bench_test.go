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

	"sluice.dev/runtimes/catalog"
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
			bareCmd := append([]string{cat.Interpreter(fx.runtime)}, bare[fx.runtime]...)
			var c coldTimes
			for range b.N {
				cfg := config(b, fx, "handler")
				cfg.CodeDir, cfg.Handler = testdata(b, hello[fx.runtime]), "hello.handler"
				c.round(b, cat, bareCmd, cfg, PrestartConfig{ID: "warm", Runtime: fx.runtime}, 0)
			}
			c.report(b)
		})
	}
}

// coldTimes are one runtime's cold measurements, a round at a time.
type coldTimes struct{ bare, scratch, pool, init []time.Duration }

// round times, one after the other: the bare command, a cold invocation of cfg on a process
// started for it, and one on a process pre-started with pre (in a slot folder of its own; the
// Prestart is not timed, as a pool does it ahead, and the process waits settle first, as a
// pool's does).
func (c *coldTimes) round(b *testing.B, cat *catalog.Catalog, bare []string, cfg Config, pre PrestartConfig, settle time.Duration) {
	ctx := context.Background()
	t0 := time.Now()
	if err := exec.Command(bare[0], bare[1:]...).Run(); err != nil {
		b.Fatal(err)
	}
	c.bare = append(c.bare, time.Since(t0))

	t0 = time.Now()
	i, err := Start(ctx, cat, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := i.Invoke(ctx, Request{ID: "cold", Payload: []byte(`{}`)}); err != nil {
		b.Fatal(err)
	}
	c.scratch = append(c.scratch, time.Since(t0))
	_ = i.Close()

	pre.SlotDir = b.TempDir()
	w, err := Prestart(ctx, cat, pre)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(settle)
	t0 = time.Now()
	if err := w.Specialize(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Invoke(ctx, Request{ID: "cold", Payload: []byte(`{}`)}); err != nil {
		b.Fatal(err)
	}
	c.pool = append(c.pool, time.Since(t0))
	c.init = append(c.init, w.InitDuration())
	_ = w.Close()
}

// report reports p50 and p99 of each measurement and the ratios of the p50s to the bare start.
func (c *coldTimes) report(b *testing.B) {
	pBare, pScratch, pPool := pct(c.bare, 50), pct(c.scratch, 50), pct(c.pool, 50)
	b.ReportMetric(ms(pBare), "bare-p50-ms")
	b.ReportMetric(ms(pct(c.bare, 99)), "bare-p99-ms")
	b.ReportMetric(ms(pScratch), "scratch-p50-ms")
	b.ReportMetric(ms(pct(c.scratch, 99)), "scratch-p99-ms")
	b.ReportMetric(ms(pPool), "pool-p50-ms")
	b.ReportMetric(ms(pct(c.pool, 99)), "pool-p99-ms")
	b.ReportMetric(ms(pct(c.init, 50)), "pool-init-p50-ms")
	b.ReportMetric(float64(pPool)/float64(pBare), "pool/bare")
	b.ReportMetric(float64(pScratch)/float64(pBare), "scratch/bare")
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
