package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice.dev/runtimes/build"
)

// buildProbe is a "toolchain" that reports what a build can do: who it runs as, its
// environment, and what writing its output, its sources, reading the node's secrets and
// connecting to the host give.
const buildProbe = `
import json, os, socket, sys
out, src, secrets, port = sys.argv[1:5]
res = {"uid": os.getuid(), "env": dict(os.environ)}
def attempt(name, fn):
    try:
        fn(); res[name] = "ok"
    except OSError as e:
        res[name] = e.strerror
attempt("write_out", lambda: open(os.path.join(out, "Main.class"), "w").write("built"))
attempt("write_src", lambda: open(os.path.join(src, "Evil.java"), "w").write("x"))
attempt("read_secrets", lambda: open(secrets).read())
attempt("connect_host", lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=2).close())
attempt("metadata", lambda: socket.create_connection(("169.254.169.254", 80), timeout=2).close())
print(json.dumps(res))
`

// TestBuildIsConfined: a deploy-time build runs as a sandbox uid with only its Command's
// environment, writes only its output, reaches neither the node's files nor the host's
// network, and hands its output folder back to root.
func TestBuildIsConfined(t *testing.T) {
	sb := isolated(t, Options{})
	n := newNode(t)
	t.Setenv("SLUICE_TOKEN", "node-token-never-in-a-build")
	work := filepath.Join(n.data, "build")
	src, out := filepath.Join(work, "src"), filepath.Join(work, "out")
	for _, d := range []string{src, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port, err := listenLoopback(t)
	if err != nil {
		t.Fatal(err)
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("needs /usr/bin/python3 as a stand-in toolchain")
	}
	c := build.Command{Path: python, Args: []string{"-c", buildProbe, out, src, n.secrets, fmt.Sprint(port)},
		Env: []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}, Dir: src, Read: []string{src}, Write: []string{out}}
	b, err := sb.Run(context.Background(), c)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	var got struct {
		UID         int
		Env         map[string]string
		WriteOut    string `json:"write_out"`
		WriteSrc    string `json:"write_src"`
		ReadSecrets string `json:"read_secrets"`
		ConnectHost string `json:"connect_host"`
		Metadata    string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.UID != DefaultUID {
		t.Errorf("the build runs as uid %d inside, want %d", got.UID, DefaultUID)
	}
	for k := range got.Env {
		if k != "PATH" && k != "LANG" && k != "PWD" && k != "LC_CTYPE" {
			t.Errorf("the build sees %s, which its Command did not set", k)
		}
	}
	if got.WriteOut != "ok" {
		t.Errorf("writing the output: %s", got.WriteOut)
	}
	for what, v := range map[string]string{"writing the sources": got.WriteSrc, "reading the node's secrets": got.ReadSecrets,
		"connecting to the host's loopback": got.ConnectHost, "connecting to the metadata address": got.Metadata} {
		if v == "ok" {
			t.Errorf("%s worked", what)
		}
	}
	if !strings.Contains(got.ConnectHost, "refused") {
		t.Errorf("connecting to the host's loopback: %q, want refused", got.ConnectHost)
	}
	fi, err := os.Stat(filepath.Join(out, "Main.class"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0) {
		t.Errorf("the build's output belongs to %d:%d after it, want root", st.Uid, st.Gid)
	}
}

// TestBuildEndsWithItsContext: a build still running when its context ends is killed with
// its children.
func TestBuildEndsWithItsContext(t *testing.T) {
	sb := isolated(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := sb.Run(ctx, build.Command{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & sleep 60"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/"})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("a build past its deadline: %v %s", err, b)
	}
}
