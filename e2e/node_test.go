package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Deadlines of the helpers. They bound waiting; they are not performance assertions.
const (
	startDeadline = 90 * time.Second // sluice up until /healthz answers
	stopDeadline  = 30 * time.Second // SIGINT until the process exits
	cliDeadline   = 2 * time.Minute  // one CLI command
)

// site is a node's persistent place: a data directory and a home (config file), kept across
// restarts of the node.
type site struct {
	bin  string
	home string
	data string
}

func newSite(t testing.TB) *site {
	t.Helper()
	bin := os.Getenv(binEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests through go test (TestMain builds the binary)", binEnv)
	}
	dir := t.TempDir()
	s := &site{bin: bin, home: filepath.Join(dir, "home"), data: filepath.Join(dir, "data")}
	if err := os.MkdirAll(filepath.Join(s.home, ".config"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// env is the environment of every process the tests start: the caller's, without any SLUICE_
// variable, with the site's HOME and XDG_CONFIG_HOME, plus extra.
func (s *site) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SLUICE_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+s.home, "XDG_CONFIG_HOME="+filepath.Join(s.home, ".config"))
	return append(env, extra...)
}

// node is one running `sluice up` process.
type node struct {
	site    *site
	cmd     *exec.Cmd
	out     *output
	done    chan struct{} // closed once the process has exited and waitErr is set
	waitErr error
	stopped bool

	URL, Token, NATSURL string
	http                *http.Client
}

// start runs `sluice up` on the site's data directory and a free loopback port, and returns once
// it printed its endpoints and /healthz answers. The node is killed when the test ends unless it
// was stopped.
func (s *site) start(t testing.TB, flags ...string) *node {
	t.Helper()
	n := s.launch(t, flags...)
	n.waitReady(t)
	return n
}

// launch runs `sluice up` as start does, and returns at once; URL is set (addr is where it
// listens), the rest waits for waitReady.
func (s *site) launch(t testing.TB, flags ...string) *node {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"up", "--data", s.data, "--listen", addr}, flags...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := newOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice up: %v", err)
	}
	n := &node{site: s, cmd: cmd, out: out, done: make(chan struct{}), http: &http.Client{Timeout: cliDeadline}, URL: "http://" + addr}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice up %s output (last lines):\n%s", strings.Join(flags, " "), out.tail(80))
		}
		n.kill()
	})
	return n
}

// waitReady waits until the node printed its endpoints and /healthz answers 200.
func (n *node) waitReady(t testing.TB) {
	t.Helper()
	out := n.out
	select {
	case <-out.ready:
	case <-n.done:
		t.Fatalf("sluice up exited before printing its endpoints: %v\n%s", n.waitErr, out.tail(40))
	case <-time.After(startDeadline):
		t.Fatalf("sluice up printed no SLUICE_URL/SLUICE_TOKEN/SLUICE_NATS_URL lines within %s\n%s", startDeadline, out.tail(40))
	}
	n.URL, n.Token, n.NATSURL = out.value("SLUICE_URL"), out.value("SLUICE_TOKEN"), out.value("SLUICE_NATS_URL")
	testkit.EventuallyEvery(t, startDeadline, 100*time.Millisecond, func() error {
		select {
		case <-n.done:
			return fmt.Errorf("sluice up exited: %v", n.waitErr)
		default:
		}
		resp, err := n.http.Get(n.URL + "/healthz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: %s", resp.Status)
		}
		return nil
	})
}

// stop interrupts the node as Ctrl-C would and requires a clean exit (status 0) within
// stopDeadline.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupt sluice up: %v", err)
	}
	select {
	case <-n.done:
	case <-time.After(stopDeadline):
		n.kill()
		t.Fatalf("sluice up did not exit within %s of SIGINT", stopDeadline)
	}
	n.stopped = true
	if n.waitErr != nil {
		t.Fatalf("sluice up exited with %v after SIGINT (want status 0)", n.waitErr)
	}
	// The node's instances must go with it (give a moment for the last ones to be reaped).
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(n.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Errorf("processes of the stopped node are still running (process group %d)", n.cmd.Process.Pid)
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the node and anything left in its process group.
func (n *node) kill() {
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(stopDeadline):
	}
}

// result is the outcome of one CLI command.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("sluice %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// lastLine is the last non-empty line of stdout, trimmed.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// sluice runs one CLI command against the node (SLUICE_URL and SLUICE_TOKEN in its environment).
func (n *node) sluice(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliDeadline)
	defer cancel()
	return n.sluiceCtx(ctx, t, args...)
}

func (n *node) sluiceCtx(ctx context.Context, t testing.TB, args ...string) result {
	t.Helper()
	return n.sluiceWith(ctx, t, n.Token, args...)
}

// sluiceAs runs one CLI command against the node with token as SLUICE_TOKEN (an access key's).
func (n *node) sluiceAs(t testing.TB, token string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliDeadline)
	defer cancel()
	return n.sluiceWith(ctx, t, token, args...)
}

func (n *node) sluiceWith(ctx context.Context, t testing.TB, token string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, n.site.bin, args...)
	cmd.Env = n.site.env("SLUICE_URL="+n.URL, "SLUICE_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	case ctx.Err() != nil:
		t.Fatalf("sluice %s: no answer before the deadline: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), ctx.Err(), r.stdout, r.stderr)
	default:
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs a CLI command that must succeed.
func (n *node) ok(t testing.TB, args ...string) result {
	t.Helper()
	r := n.sluice(t, args...)
	if r.code != 0 {
		t.Fatalf("want success, got %s", r)
	}
	return r
}

// response is an HTTP answer, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request sends an HTTP request to the node with the bearer token (unless noToken), header
// given as name, value pairs.
func (n *node) request(t testing.TB, method, path string, body []byte, noToken bool, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, n.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !noToken {
		req.Header.Set("Authorization", "Bearer "+n.Token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := n.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// output collects a node's stdout and stderr, remembers the KEY=VALUE lines it printed, and
// closes ready once the three endpoint lines were seen. Safe for concurrent use.
type output struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	values  map[string]string
	ready   chan struct{}
	closed  bool
}

const maxOutputLines = 5000

func newOutput() *output {
	return &output{values: map[string]string{}, ready: make(chan struct{})}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.line(string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	return len(p), nil
}

func (o *output) line(s string) {
	s = strings.TrimRight(s, "\r")
	if len(o.lines) >= maxOutputLines {
		o.lines = o.lines[1:]
	}
	o.lines = append(o.lines, s)
	for _, k := range []string{"SLUICE_URL", "SLUICE_TOKEN", "SLUICE_NATS_URL"} {
		if v, ok := strings.CutPrefix(s, k+"="); ok {
			o.values[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	if !o.closed && o.values["SLUICE_URL"] != "" && o.values["SLUICE_TOKEN"] != "" && o.values["SLUICE_NATS_URL"] != "" {
		o.closed = true
		close(o.ready)
	}
}

func (o *output) value(k string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.values[k]
}

func (o *output) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	from := max(0, len(o.lines)-n)
	var b strings.Builder
	for _, l := range o.lines[from:] {
		b.WriteString("  | " + l + "\n")
	}
	return b.String()
}

// groupAlive reports whether a process group has a member that is not a zombie (a zombie whose
// parent is gone waits on whoever reaps orphans, which is not the node's business).
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so split after its closing paren.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) >= 3 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// natsClient connects to the bus at url for the rest of the test.
func natsClient(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
