package sandbox

import (
	"context"
	"os/exec"
	"syscall"
	"testing"

	"sluice.dev/runtimes/instance"
)

// BenchmarkSandboxStart measures starting a process that exits at once (/bin/true) and waiting
// for it: plainly, and inside a full sandbox (cgroup made and removed, code folder staged,
// bubblewrap's namespaces).
func BenchmarkSandboxStart(b *testing.B) {
	n := newNode(b)
	cfg := instance.Config{ID: "bench", Function: "bench", Runtime: "python", CodeDir: n.code["python"], MemoryMB: 128}
	newCmd := func() *exec.Cmd {
		return &exec.Cmd{Path: "/bin/true", Args: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: cfg.CodeDir,
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	}
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := newCmd().Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sandboxed", func(b *testing.B) {
		sb := isolated(b, Options{})
		ctx := context.Background()
		for b.Loop() {
			cmd := newCmd()
			j, err := sb.Jail(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := j.Wrap(cmd); err != nil {
				b.Fatal(err)
			}
			if err := j.Start(cmd); err != nil {
				b.Fatal(err)
			}
			if err := j.Started(cmd.Process.Pid); err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			j.Release()
		}
	})
}

// BenchmarkColdStart measures an instance's Start (process launch to the bootstrap's first
// request for work), one invocation and Close, bare and sandboxed.
func BenchmarkColdStart(b *testing.B) {
	cat := newCatalog(b)
	n := newNode(b)
	sb := isolated(b, Options{})
	for _, fx := range fixtures {
		for _, mode := range []struct {
			name string
			sb   instance.Sandbox
		}{{"bare", nil}, {"sandboxed", sb}} {
			b.Run(fx.runtime+"/"+mode.name, func(b *testing.B) {
				cfg := config(n, fx, "echo", mode.sb)
				if mode.sb == nil {
					cfg.Sandbox = nil
				}
				ctx := context.Background()
				for b.Loop() {
					i, err := instance.Start(ctx, cat, cfg)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := i.Invoke(ctx, request(map[string]int{})); err != nil {
						b.Fatal(err)
					}
					_ = i.Close()
				}
			})
		}
	}
}

// BenchmarkNetwork measures making and dropping an instance's network namespace: with only its
// loopback, and with slirp4netns configured for the outside network.
func BenchmarkNetwork(b *testing.B) {
	sb := isolated(b, Options{})
	if sb.plan == nil {
		b.Skip("no private network on this host")
	}
	for _, egress := range []bool{false, true} {
		plan := *sb.plan
		plan.egress = egress && plan.slirp != ""
		b.Run(map[bool]string{false: "none", true: "egress"}[egress], func(b *testing.B) {
			for b.Loop() {
				n, err := newNetwork(plan, sb.log)
				if err == nil {
					err = n.waitReady()
				}
				if err != nil {
					b.Fatal(err)
				}
				n.close()
			}
		})
	}
}
