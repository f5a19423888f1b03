package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peekPy reports the function's environment and, for each path in the event, what reading it gave.
const peekPy = `import os


def handler(event, context):
    out = {"env": dict(os.environ), "read": {}}
    for p in event.get("paths", []):
        try:
            with open(p) as f:
                out["read"][p] = "read: " + f.read(200)
        except Exception as e:
            out["read"][p] = "refused: " + type(e).__name__
    return out
`

// A function sees the settings it was deployed with and none of the node's secrets: no SLUICE_
// variable, no config file with the API token, no bus credentials in the data folder.
func TestFunctionCannotReadSecrets(t *testing.T) {
	s := newSite(t)
	n := s.start(t)
	deployInline(t, n, "peek", peekPy, "--env", "GREETING=hola")
	config := filepath.Join(s.home, ".config", "sluice", "config")
	ev, err := json.Marshal(map[string][]string{"paths": {config}})
	if err != nil {
		t.Fatal(err)
	}
	r := n.ok(t, "invoke", "peek", "--data", string(ev))
	var got struct {
		Env  map[string]string `json:"env"`
		Read map[string]string `json:"read"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("peek result: %v: %s", err, r.stdout)
	}
	if got.Env["GREETING"] != "hola" {
		t.Errorf("--env GREETING=hola did not reach the function: %v", got.Env)
	}
	for k, v := range got.Env {
		if strings.HasPrefix(k, "SLUICE_") || strings.Contains(v, n.Token) {
			t.Errorf("the function's environment holds a node secret: %s", k)
		}
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("no bubblewrap on this host: the node runs functions with rlimits only, without a private filesystem")
	}
	if v := got.Read[config]; strings.HasPrefix(v, "read:") {
		t.Errorf("the function read the node's config file (API token) at %s", config)
	}
}

// dialPy tries a TCP connection to each host:port of the event and reports what happened.
const dialPy = `import socket


def handler(event, context):
    out = {}
    for addr in event["addrs"]:
        host, port = addr.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            out[addr] = "connected"
        except OSError as e:
            out[addr] = "refused: " + (e.strerror or str(e))
    return out
`

// A function on a node with default settings reaches nothing of the host: not the embedded
// bus, not the API and gateway, not a cloud metadata address. An address the operator allows
// (the gateway, here) is reachable, at the same address.
func TestFunctionCannotReachTheHost(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("no bubblewrap on this host: the node runs functions without a network of their own")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a root worker gives instances a network of their own")
	}
	s := newSite(t)
	n := s.start(t)
	deployInline(t, n, "dial", dialPy)
	api := strings.TrimPrefix(n.URL, "http://")
	bus := natsHostPort(t, n.NATSURL)
	addrs := []string{bus, api, "169.254.169.254:80"}
	got := dialFrom(t, n, addrs)
	for _, a := range addrs {
		if got[a] == "connected" {
			t.Errorf("a function reached %s on the host", a)
		}
	}
	n.stop(t)

	n = s.start(t, "--allow-host", api)
	got = dialFrom(t, n, []string{api, bus})
	if got[api] != "connected" {
		t.Errorf("--allow-host %s: the function could not reach it: %s", api, got[api])
	}
	if got[bus] == "connected" {
		t.Errorf("--allow-host %s: the function also reached the bus at %s", api, bus)
	}
}

func dialFrom(t *testing.T, n *node, addrs []string) map[string]string {
	t.Helper()
	ev, err := json.Marshal(map[string][]string{"addrs": addrs})
	if err != nil {
		t.Fatal(err)
	}
	r := n.ok(t, "invoke", "dial", "--data", string(ev))
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("dial result: %v: %s", err, r.stdout)
	}
	t.Logf("from inside a function: %v", got)
	return got
}

// natsHostPort is the host:port of a nats:// URL with credentials.
func natsHostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(strings.Split(raw, ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
