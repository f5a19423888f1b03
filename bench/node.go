package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// node is a `sluice up` process in a temporary directory, with the endpoints it printed.
type node struct {
	bin     string
	dir     string
	env     []string
	cmd     *exec.Cmd
	done    chan struct{}
	stopped sync.Once
	keep    bool // leave dir (data, up.log) in place after stop
	URL     string
	Token   string
	NATSURL string
}

// startNode runs `sluice up` (with flags) on a temporary data directory and a free loopback port
// and waits until /healthz answers.
func startNode(ctx context.Context, bin string, keep bool, flags ...string) (*node, error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	env := ownEnv(dir)
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"up", "--data", filepath.Join(dir, "data"), "--listen", addr}, flags...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start sluice up: %w", err)
	}
	n := &node{bin: bin, dir: dir, env: env, cmd: cmd, done: make(chan struct{}), keep: keep}
	vals := make(chan map[string]string, 1)
	go func() {
		defer close(n.done)
		defer logf.Close()
		v := map[string]string{}
		s := bufio.NewScanner(out)
		sent := false
		for s.Scan() {
			fmt.Fprintln(logf, s.Text())
			if k, val, ok := strings.Cut(s.Text(), "="); ok && strings.HasPrefix(k, "SLUICE_") {
				v[k] = strings.Trim(val, `"'`)
			}
			if !sent && v["SLUICE_URL"] != "" && v["SLUICE_TOKEN"] != "" && v["SLUICE_NATS_URL"] != "" {
				vals <- v
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	select {
	case v := <-vals:
		n.URL, n.Token, n.NATSURL = v["SLUICE_URL"], v["SLUICE_TOKEN"], v["SLUICE_NATS_URL"]
	case <-n.done:
		return nil, fmt.Errorf("sluice up exited early; see %s", filepath.Join(dir, "up.log"))
	case <-time.After(90 * time.Second):
		n.stop()
		return nil, fmt.Errorf("sluice up printed no endpoints within 90s")
	case <-ctx.Done():
		n.stop()
		return nil, ctx.Err()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(n.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("sluice /healthz did not answer 200 within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sluice runs one CLI command against the node.
func (n *node) sluice(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = append(append([]string{}, n.env...), "SLUICE_URL="+n.URL, "SLUICE_TOKEN="+n.Token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sluice %s: %w: %s", args[0], err, out)
	}
	return string(out), nil
}

// stop interrupts the node, kills it if it has not exited after 30 s, and removes its directory;
// once, however often it is called.
func (n *node) stop() { n.stopped.Do(n.stopNow) }

func (n *node) stopNow() {
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
	if n.keep {
		fmt.Fprintf(os.Stderr, "bench: kept the node's folder (log: up.log): %s\n", n.dir)
		return
	}
	_ = os.RemoveAll(n.dir)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ownEnv is this process's environment for a sluice process of the bench: its own home (so its
// client config file is its own) and none of the caller's SLUICE_ settings.
func ownEnv(dir string) []string {
	home := filepath.Join(dir, "home")
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "SLUICE_") && k != "HOME" && k != "XDG_CONFIG_HOME" {
			env = append(env, kv)
		}
	}
	return env
}
