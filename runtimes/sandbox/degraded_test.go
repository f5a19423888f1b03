package sandbox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sluice.dev/runtimes/instance"
)

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups and the unprivileged uid are only set up by a root worker")
	}
}

func TestProbeThisHost(t *testing.T) {
	needRoot(t)
	rep, err := Probe(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if !rep.Isolated || !rep.Namespaces || !rep.UnprivilegedUID || rep.Rlimits || len(rep.Missing) > 0 ||
		(rep.Cgroup != CgroupV1 && rep.Cgroup != CgroupV2) || rep.UID != DefaultFirstUID || rep.BwrapVersion == "" ||
		!rep.PrivateNetwork || rep.Network != string(NetworkEgress) || rep.Egress == "" {
		t.Fatalf("report %+v: this host should isolate fully", rep)
	}
}

func TestRequiredRefusesWithoutBubblewrap(t *testing.T) {
	_, err := New(context.Background(), Options{Mode: Required, Bwrap: "/nonexistent/bwrap"}, nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "bubblewrap not found") {
		t.Fatalf("err = %v, want ErrUnavailable naming bubblewrap", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Mode: 7}, {PidsLimit: 3}, {TmpSizeMB: -1}, {Network: "bridge"}, {ReadOnly: []string{"opt"}}, {CgroupParent: "../x"}} {
		if _, err := New(context.Background(), o, nil); !errors.Is(err, ErrOptions) {
			t.Errorf("New(%+v) = %v, want ErrOptions", o, err)
		}
	}
	if m, err := ParseMode("Required"); err != nil || m != Required {
		t.Errorf("ParseMode = %v %v", m, err)
	}
	if _, err := ParseNetwork("bridge"); !errors.Is(err, ErrOptions) {
		t.Errorf("ParseNetwork(bridge) = %v", err)
	}
}

// Without bubblewrap, Auto still drops the uid and keeps the cgroup limits, and says what is
// missing.
func TestAutoWithoutBubblewrap(t *testing.T) {
	needRoot(t)
	var logs logBuffer
	s, err := New(context.Background(), Options{Bwrap: "/nonexistent/bwrap"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if rep := s.Report(); rep.Isolated || rep.Namespaces || !rep.UnprivilegedUID || rep.Cgroup == "" {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "bubblewrap not found") {
		t.Fatalf("no warning naming bubblewrap:\n%s", logs.String())
	}
	sb := &recorder{Sandbox: s}
	cat := newCatalog(t)
	n := newNode(t)
	for _, fx := range fixtures {
		t.Run(fx.runtime, func(t *testing.T) {
			i := start(t, cat, config(n, fx, "alloc", sb)) // the code sits in a private data folder
			for _, p := range sb.last().pids {
				if u := uidOf(t, p); !sandboxUID(u) {
					t.Errorf("process %d runs as uid %d, not one of the sandbox's", p, u)
				}
			}
			var got int
			call(t, i, map[string]int{"mb": 10}, &got)
			if got != 10 {
				t.Fatalf("alloc answered %d", got)
			}
			cfg := config(n, fx, "alloc", sb)
			cfg.MemoryMB = 128
			oom := start(t, cat, cfg)
			if _, err := oom.Invoke(context.Background(), request(map[string]int{"mb": 400})); !errors.Is(err, instance.ErrOOM) {
				t.Fatalf("err = %v, want ErrOOM", err)
			}
		})
	}
}

// Off runs processes directly under rlimits and says so.
func TestOffUsesRlimits(t *testing.T) {
	var logs logBuffer
	s, err := New(context.Background(), Options{Mode: Off}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if rep := s.Report(); rep.Isolated || !rep.Rlimits || len(rep.Missing) == 0 || !strings.Contains(logs.String(), "NOT isolated") {
		t.Fatalf("report %+v, logs %s", rep, logs.String())
	}
	sb := &recorder{Sandbox: s}
	cat := newCatalog(t)
	n := newNode(t)
	for _, fx := range fixtures {
		t.Run(fx.runtime, func(t *testing.T) {
			cfg := config(n, fx, "alloc", sb)
			cfg.MemoryMB = 512
			i := start(t, cat, cfg)
			limits, err := os.ReadFile("/proc/" + strconv.Itoa(sb.last().pids[0]) + "/limits")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(limits), strconv.Itoa(512<<20)) {
				t.Errorf("no 512 MiB data limit:\n%s", limits)
			}
			var got int
			call(t, i, map[string]int{"mb": 10}, &got)
			if got != 10 {
				t.Fatalf("alloc answered %d", got)
			}
		})
	}
}
