package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/bustest"
)

// A role reaches a real nats-server that requires TLS with client certificates and a password,
// given the CA, its certificate and key by flags or SLUICE_NATS_* variables; the same role with
// a wrong password, or trusting another CA, stops at once and says why.
func TestServeOverTLSWithCredentials(t *testing.T) {
	bin := requireNATSServer(t)
	s := newSite(t)
	dir := t.TempDir()
	p := bustest.NewPKI(t, dir)
	addr := freeAddr(t)
	conf := filepath.Join(dir, "tls.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `listen: %s
max_payload: 8388608
authorization { user: sluice, password: tls-secret }
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
}
jetstream { store_dir: %q }
`, addr, p.ServerCert, p.ServerKey, p.CA, filepath.Join(dir, "store")), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := &proc{name: "nats-server (tls)", bin: bin, args: []string{"-c", conf}, env: os.Environ(), ready: "Server is ready"}
	srv.cleanup(t)
	srv.start(t)

	// Flags.
	ok := serveRole(t, s, "scaler", "scaler-tls", "--nats", "tls://sluice:tls-secret@"+addr,
		"--nats-ca", p.CA, "--nats-cert", p.ClientCert, "--nats-key", p.ClientKey)
	if !outputHas(ok.out, "bus connected") {
		t.Fatalf("scaler over TLS: no connection logged\n%s", ok.out.tail(20))
	}
	// Variables.
	envRole := &proc{name: "adapters-tls", bin: s.bin, ready: "sluice serving",
		args: []string{"serve", "adapters", "--data", filepath.Join(dir, "adapters")},
		env: s.env("SLUICE_NATS_URL=tls://sluice:tls-secret@"+addr, "SLUICE_NATS_CA="+p.CA,
			"SLUICE_NATS_CERT="+p.ClientCert, "SLUICE_NATS_KEY="+p.ClientKey)}
	envRole.cleanup(t)
	envRole.start(t)

	other := bustest.NewPKI(t, t.TempDir())
	for _, bad := range []struct {
		why  string
		args []string
		want string
	}{
		{"wrong password", []string{"--nats", "tls://sluice:wrong@" + addr, "--nats-ca", p.CA, "--nats-cert", p.ClientCert, "--nats-key", p.ClientKey}, "authorization violation"},
		{"untrusted server", []string{"--nats", "tls://sluice:tls-secret@" + addr, "--nats-ca", other.CA, "--nats-cert", p.ClientCert, "--nats-key", p.ClientKey}, "certificate"},
		{"no client certificate", []string{"--nats", "tls://sluice:tls-secret@" + addr, "--nats-ca", p.CA}, "certificate"},
	} {
		r := &proc{name: "worker (" + bad.why + ")", bin: s.bin, env: s.env(),
			args: append([]string{"serve", "worker", "--isolation", "off", "--data", t.TempDir()}, bad.args...)}
		start := time.Now()
		res := runToEnd(t, r, 30*time.Second)
		out := strings.ToLower(res)
		if !strings.Contains(out, "bus rejected the connection") || !strings.Contains(out, bad.want) {
			t.Errorf("%s: want a clear refusal naming %q, got:\n%s", bad.why, bad.want, res)
		}
		if strings.Contains(res, "tls-secret") || strings.Contains(res, ":wrong@") {
			t.Errorf("%s: the output shows the password:\n%s", bad.why, res)
		}
		t.Logf("%s: refused after %s", bad.why, time.Since(start).Round(time.Millisecond))
	}
}

// runToEnd runs a process that must exit with a failure by itself within limit, and returns its
// output.
func runToEnd(t *testing.T, p *proc, limit time.Duration) string {
	t.Helper()
	p.cleanup(t)
	p.launch(t)
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s still running after %s; want it to stop with an error\n%s", p.name, limit, p.out.tail(20))
	}
	if p.waitErr == nil {
		t.Fatalf("%s exited with status 0; want a failure\n%s", p.name, p.out.tail(20))
	}
	return p.out.tail(20)
}
