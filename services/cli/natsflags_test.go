package cli

import (
	"strings"
	"testing"

	"sluice.dev/services/bus"
)

func TestServeBusFlags(t *testing.T) {
	s := newSite(t)
	roles := &fakeRoles{}
	r := s.runIn(t.Context(), "", roles, "serve", "scaler", "--nats", "nats://a:4222,nats://b:4222", "--replicas", "3",
		"--nats-creds", "/etc/s.creds", "--nats-ca", "/etc/ca.pem", "--nats-cert", "/etc/c.pem", "--nats-key", "/etc/k.pem")
	want := bus.Auth{CredsFile: "/etc/s.creds", CAFile: "/etc/ca.pem", CertFile: "/etc/c.pem", KeyFile: "/etc/k.pem"}
	if r.code != 0 || roles.serve.NATSURL != "nats://a:4222,nats://b:4222" || roles.serve.Replicas != 3 || roles.serve.NATSAuth != want {
		t.Fatalf("serve with bus flags: %s %+v", r, roles.serve)
	}

	// Every flag has its variable; flags win over variables.
	s.env["SLUICE_NATS_URL"] = "nats://env:4222"
	s.env[EnvNATSToken] = "tok"
	s.env[EnvNATSNKey] = "/env/seed"
	s.env[EnvReplicas] = "3"
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats-nkey", "/flag/seed"); r.code != 0 ||
		roles.serve.NATSAuth.Token != "tok" || roles.serve.NATSAuth.NKeyFile != "/flag/seed" || roles.serve.Replicas != 3 {
		t.Fatalf("serve from env: %s %+v", r, roles.serve)
	}
	delete(s.env, EnvReplicas)
	if r := s.runIn(t.Context(), "", roles, "serve", "worker"); r.code != 0 || roles.serve.Replicas != 0 {
		t.Fatalf("no --replicas: %s %+v, want 0 (what the bus has)", r, roles.serve)
	}

	for _, bad := range [][]string{
		{"--replicas", "0"}, {"--replicas", "6"}, {"--replicas", "three"},
		{"--nats-cert", "/c.pem"}, {"--nats-key", "/k.pem"},
	} {
		r := s.runIn(t.Context(), "", roles, append([]string{"serve", "worker"}, bad...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, bad[0]) {
			t.Errorf("serve worker %v: want a usage error naming %s, got %s", bad, bad[0], r)
		}
	}
}
