package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
)

// A pre-started process sits in its sandbox before any function is assigned; specialising it
// shows the function's code at TaskRoot and applies the function's memory to its cgroup.
func TestPrestartedThenSpecialized(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	for _, fx := range fixtures {
		t.Run(fx.runtime, func(t *testing.T) {
			if !cat.Specializable(fx.runtime, nil) {
				t.Skipf("runtime %s cannot be pre-started", fx.runtime)
			}
			ctx := context.Background()
			i, j := prestartIn(ctx, t, sb, cat, n, fx.runtime, 0)
			if got := cpuWeight(t, j); got != "2" && got != "1" {
				t.Errorf("CPU weight of a process pre-started for no function = %s, want the least (v1 2, v2 1)", got)
			}
			cfg := config(n, fx, "ids", nil)
			cfg.MemoryMB = 192
			if err := i.Specialize(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			var got struct {
				UID      int
				CWD      string
				TaskRoot string `json:"task_root"`
				Task     []string
			}
			call(t, i, map[string]any{}, &got)
			if got.UID != DefaultUID || got.TaskRoot != TaskRoot || len(got.Task) != 1 {
				t.Errorf("specialised instance sees %+v", got)
			}
			if got, want := cpuWeight(t, j), weightOf(j, 192); got != want {
				t.Errorf("CPU weight after Specialize = %s, want the function's %s", got, want)
			}
			b, err := os.ReadFile(filepath.Join(j.cg.dirs["memory"], "memory.limit_in_bytes"))
			if j.cg.h.version == CgroupV1 && (err != nil || string(b) != "201326592\n") {
				t.Errorf("memory limit after Specialize = %q %v", b, err)
			}
		})
	}
}

// cpuWeight reads the jail's CPU weight: cpu.shares on v1, cpu.weight on v2.
func cpuWeight(t *testing.T, j *Jail) string {
	t.Helper()
	file := "cpu.shares"
	if j.cg.h.version == CgroupV2 {
		file = "cpu.weight"
	}
	b, err := os.ReadFile(filepath.Join(j.cg.dirs["cpu"], file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// weightOf is the CPU weight a function of mb gets, as cpuWeight reads it.
func weightOf(j *Jail, mb int) string {
	shares := limitsFor(mb, Options{}).cpuShares
	if j.cg.h.version == CgroupV2 {
		return strconv.FormatUint(max(1, shares*100/1024), 10)
	}
	return strconv.FormatUint(shares, 10)
}

// prestartIn pre-starts a generic process of runtime confined by sb, in a slot folder of its own
// under the node n's data, with initTimeout (0: the default) to start; it returns the process
// and its jail.
func prestartIn(ctx context.Context, t *testing.T, sb *recorder, cat *catalog.Catalog, n *node, runtime string, initTimeout time.Duration) (*instance.Instance, *Jail) {
	t.Helper()
	slots := filepath.Join(n.data, "slots")
	if err := os.MkdirAll(slots, 0o755); err != nil {
		t.Fatal(err)
	}
	slot, err := os.MkdirTemp(slots, runtime+"-")
	if err == nil {
		err = os.Chmod(slot, 0o755) // as a worker's slot folders
	}
	if err != nil {
		t.Fatal(err)
	}
	i, err := instance.Prestart(ctx, cat, instance.PrestartConfig{ID: "pre-" + filepath.Base(slot), Runtime: runtime, SlotDir: slot,
		Sandbox: sb, InitTimeout: initTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = i.Close() })
	return i, sb.last()
}
