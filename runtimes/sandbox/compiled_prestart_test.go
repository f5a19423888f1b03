package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice.dev/runtimes/internal/codetest"

	"sluice.dev/runtimes/instance"
)

// A pre-started JVM or Mono process is confined from its start, before any function is
// assigned: it runs as the jail's own uid in the jail's cgroup under the default memory limit.
// Specialised, it serves its function inside the same sandbox: the function's code alone at
// TaskRoot, bubblewrap as pid 1, the node's files out of reach, the function's memory setting
// on its cgroup. Without the sandbox each of these checks fails (uid 0, the host's slot folder,
// the node's credentials readable, no cgroup).
func TestCompiledPrestartedIsSandboxed(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	cases := []struct {
		runtime, ids, read string
		files              []string
	}{
		{runtime: "java", ids: "hostile.Main::ids", read: "hostile.Main::read", files: []string{"hostile"}},
		{runtime: "dotnet", ids: "Hostile.Main::Ids", read: "Hostile.Main::Read", files: []string{"function.dll"}},
	}
	for _, c := range cases {
		t.Run(c.runtime, func(t *testing.T) {
			if !cat.Specializable(c.runtime, nil) {
				t.Fatalf("runtime %s cannot be pre-started", c.runtime)
			}
			code := filepath.Join(n.data, "code", c.runtime+"-built")
			if err := os.MkdirAll(code, 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if out, err := cat.Build(ctx, "hostile-"+c.runtime, c.runtime, c.ids, filepath.Join("..", "testdata", "hostile", c.runtime), code); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			codetest.MakeReadable(t, code)

			i, j := prestartIn(ctx, t, sb, cat, n, c.runtime, time.Minute)
			if j.uid == nil || !sandboxUID(j.uid.uid) || len(j.pids) == 0 {
				t.Fatalf("pre-started %s without a uid of its own: %+v %v", c.runtime, j.uid, j.pids)
			}
			for _, p := range j.pids {
				if u := uidOf(t, p); u != j.uid.uid {
					t.Errorf("before specialising: process %d runs as uid %d, want the jail's %d", p, u, j.uid.uid)
				}
				if b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cgroup"); err != nil || !strings.Contains(string(b), j.name) {
					t.Errorf("before specialising: process %d is not in the jail's cgroup %s: %s %v", p, j.name, b, err)
				}
			}
			limit := func() string {
				b, _ := os.ReadFile(filepath.Join(j.cg.dirs["memory"], "memory.limit_in_bytes"))
				return strings.TrimSpace(string(b))
			}
			if j.cg.h.version == CgroupV1 && limit() != strconv.Itoa(instance.DefaultMemoryMB<<20) {
				t.Errorf("memory limit before Specialize = %q", limit())
			}

			cfg := instance.Config{ID: "i-" + c.runtime + "-pre", Function: "hostile-" + c.runtime, Version: 1, Runtime: c.runtime,
				Handler: c.ids, CodeDir: code, MemoryMB: 192, Timeout: 30 * time.Second, InitTimeout: time.Minute}
			if err := i.Specialize(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			var got struct {
				UID      int
				CWD      string
				TaskRoot string `json:"task_root"`
				Task     []string
				Pid1     string
			}
			call(t, i, map[string]any{}, &got)
			if got.UID != DefaultUID || got.TaskRoot != TaskRoot || got.CWD != TaskRoot || !slices.Equal(got.Task, c.files) ||
				!strings.HasSuffix(got.Pid1, "bwrap") {
				t.Errorf("specialised %s sees %+v, want uid %d, %s holding %v, bubblewrap as pid 1", c.runtime, got, DefaultUID, TaskRoot, c.files)
			}
			if j.cg.h.version == CgroupV1 && limit() != "201326592" {
				t.Errorf("memory limit after Specialize = %q", limit())
			}

			// Another pre-started process, specialised with the read handler, cannot reach the
			// node's files.
			r, _ := prestartIn(ctx, t, sb, cat, n, c.runtime, time.Minute)
			rcfg := cfg
			rcfg.ID, rcfg.Handler = cfg.ID+"-read", c.read
			if err := r.Specialize(ctx, rcfg); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{n.secrets, filepath.Join(n.code["victim"], "secret.py"), "/etc/shadow"} {
				var o outcome
				call(t, r, map[string]string{"path": p}, &o)
				if o.OK {
					t.Errorf("a specialised %s process read %s: %s", c.runtime, p, o.Value)
				}
			}
		})
	}
}
