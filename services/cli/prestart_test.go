package cli

import (
	"maps"
	"strings"
	"testing"
)

func TestPrestartFlag(t *testing.T) {
	s := newSite(t)
	roles := &fakeRoles{}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://h:4222"); r.code != 0 || roles.serve.Prestart != nil {
		t.Fatalf("serve without --prestart: %s %+v", r, roles.serve.Prestart)
	}
	r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://h:4222", "--prestart", "java=2,dotnet=0")
	if want := map[string]int{"java": 2, "dotnet": 0}; r.code != 0 || !maps.Equal(roles.serve.Prestart, want) {
		t.Fatalf("serve --prestart: %s %+v", r, roles.serve.Prestart)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://h:4222", "--prestart", "java=-1"); r.code != 2 || !strings.Contains(r.stderr, "--prestart java=-1") {
		t.Fatalf("serve --prestart java=-1: %s", r)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://h:4222", "--prestart", "java"); r.code == 0 {
		t.Fatalf("serve --prestart java: %s", r)
	}
}
