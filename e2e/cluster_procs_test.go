package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServerBinary finds nats-server: $SLUICE_TEST_NATS_SERVER, the repository's bin/nats-server
// (where `go tool task nats-server` installs it), $GOBIN, $GOPATH/bin, then $PATH.
func natsServerBinary() string {
	if p := os.Getenv("SLUICE_TEST_NATS_SERVER"); p != "" {
		return p
	}
	candidates := []string{filepath.Join("..", "bin", "nats-server")}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "nats-server"))
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(gopath)), string(os.PathListSeparator))
		candidates = append(candidates, filepath.Join(first, "bin", "nats-server"))
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	return ""
}

// requireNATSServer returns the nats-server binary. Without it the test is skipped, saying how to
// install it, unless SLUICE_REQUIRE_NATS_SERVER=1 (as in CI), where it fails.
func requireNATSServer(t *testing.T) string {
	t.Helper()
	bin := natsServerBinary()
	if bin == "" {
		msg := "no nats-server binary: install it with `go tool task nats-server` (go install github.com/nats-io/nats-server/v2@<the version services/go.mod requires> into ./bin)"
		if os.Getenv("SLUICE_REQUIRE_NATS_SERVER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// proc is a process of a test that can be killed, stopped and started again with the same
// command line, as an operator restarts a service.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	ready   string // a line of output that says the process serves
	cmd     *exec.Cmd
	out     *output
	done    chan struct{}
	waitErr error
}

// start runs the process and waits until its output shows the ready line.
func (p *proc) start(t *testing.T) {
	t.Helper()
	p.launch(t)
	done, out := p.done, p.out
	testkit.EventuallyEvery(t, startDeadline, 50*time.Millisecond, func() error {
		select {
		case <-done:
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.waitErr, out.tail(30))
		default:
		}
		if !outputHas(out, p.ready) {
			return fmt.Errorf("%s has not said %q yet\n%s", p.name, p.ready, out.tail(10))
		}
		return nil
	})
}

// launch runs the process.
func (p *proc) launch(t *testing.T) {
	t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := newOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.out, p.done, p.waitErr = cmd, out, make(chan struct{}), nil
	done := p.done
	go func() {
		err := cmd.Wait()
		p.waitErr = err
		close(done)
	}()
}

// kill ends the process group at once, as a crash would.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
	}
}

// term asks the process to stop (SIGTERM, as a service manager does) and requires a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
		p.kill()
		t.Fatalf("%s did not stop within %s of SIGTERM\n%s", p.name, stopDeadline, p.out.tail(30))
	}
	if p.waitErr != nil {
		t.Fatalf("%s exited with %v after SIGTERM (want status 0)\n%s", p.name, p.waitErr, p.out.tail(30))
	}
}

// cleanup kills the process when the test ends, showing its last lines if the test failed.
func (p *proc) cleanup(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() && p.out != nil {
			t.Logf("%s output (last lines):\n%s", p.name, p.out.tail(40))
		}
		p.kill()
	})
}

// natsCluster is a JetStream cluster of nats-server processes on loopback ports, with a user and
// password, each keeping its store and ports across restarts.
type natsCluster struct {
	user, password string
	nodes          []*proc
	clientPorts    []int
}

func startNATSCluster(t *testing.T, size int) *natsCluster {
	t.Helper()
	bin := requireNATSServer(t)
	c := &natsCluster{user: "sluice", password: "cluster-secret"}
	routePorts := make([]int, size)
	for i := range size {
		c.clientPorts = append(c.clientPorts, portOf(t, freeAddr(t)))
		routePorts[i] = portOf(t, freeAddr(t))
	}
	dir := t.TempDir()
	for i := range size {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
max_payload: 8388608
authorization {
  user: %s
  password: %s
}
jetstream {
  store_dir: %q
  max_memory_store: 268435456
  max_file_store: 68719476736
}
cluster {
  name: sluice
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, c.clientPorts[i], c.user, c.password, filepath.Join(dir, name), routePorts[i], strings.Join(routes, ", "))
		file := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &proc{name: "nats-server " + name, bin: bin, args: []string{"-c", file}, env: os.Environ(), ready: "Server is ready"}
		p.cleanup(t)
		c.nodes = append(c.nodes, p)
	}
	for _, p := range c.nodes {
		p.start(t)
	}
	c.waitJetStream(t)
	return c
}

// url is the client URL of node i with the credentials.
func (c *natsCluster) url(i int) string {
	return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", c.user, c.password, c.clientPorts[i])
}

// urls lists every node, as a role's --nats.
func (c *natsCluster) urls() string {
	var us []string
	for i := range c.nodes {
		us = append(us, c.url(i))
	}
	return strings.Join(us, ",")
}

// waitJetStream waits until every node answers JetStream requests (the cluster has a meta
// leader and every node has caught up with it).
func (c *natsCluster) waitJetStream(t *testing.T) {
	t.Helper()
	for i := range c.nodes {
		testkit.EventuallyEvery(t, startDeadline, 250*time.Millisecond, func() error {
			nc, err := nats.Connect(c.url(i), nats.Timeout(2*time.Second))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if _, err := js.AccountInfo(ctx); err != nil {
				return fmt.Errorf("node %d: %w", i+1, err)
			}
			return nil
		})
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, _ := strings.Cut(addr, ":")
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sluiceRole is one `sluice serve ROLE` process of a cluster deployment.
type sluiceRole struct {
	*proc
	role string
	url  string // gateway: its base URL
}

// serveRole prepares and starts `sluice serve role` against the bus with the given flags.
func serveRole(t *testing.T, s *site, role, name string, flags ...string) *sluiceRole {
	t.Helper()
	args := append([]string{"serve", role, "--data", filepath.Join(t.TempDir(), name)}, flags...)
	r := &sluiceRole{role: role, proc: &proc{name: name, bin: s.bin, args: args, env: s.env(), ready: "sluice serving"}}
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			r.url = "http://" + args[i+1]
		}
	}
	r.cleanup(t)
	r.start(t)
	if r.url != "" {
		r.waitHealthy(t)
	}
	return r
}

// waitHealthy waits until a gateway's /healthz says ok.
func (r *sluiceRole) waitHealthy(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	testkit.EventuallyEvery(t, startDeadline, 100*time.Millisecond, func() error {
		resp, err := client.Get(r.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s healthz: %s", r.name, resp.Status)
		}
		return nil
	})
}

// restart starts a stopped or killed role again with the same command line.
func (r *sluiceRole) restart(t *testing.T) {
	t.Helper()
	r.start(t)
	if r.url != "" {
		r.waitHealthy(t)
	}
}

// outputHas reports whether a line of o contains s.
func outputHas(o *output, s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
