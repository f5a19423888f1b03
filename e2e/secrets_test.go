package e2e

import (
	"encoding/json"
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
