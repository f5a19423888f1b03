package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/services/keys"
)

func TestKeysAreIssuedCheckedAndRevoked(t *testing.T) {
	bus := bustest.Start(t)
	ctx := context.Background()
	s, err := keys.Open(ctx, bus.JS, "node-token")
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Create(ctx, keys.ScopeInvoke, "orders-*")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "SK") || len(k.Secret) < 40 || k.Scope != keys.ScopeInvoke || k.Functions != "orders-*" {
		t.Fatalf("issued %+v", k)
	}

	// What the bus holds reveals no secret.
	e, err := bus.JS.KeyValue(ctx, events.BucketKeys)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.Get(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.Value()), k.Secret) {
		t.Fatalf("the stored key holds its secret in clear: %s", stored.Value())
	}

	got, err := s.Bearer(ctx, k.Token())
	if err != nil || got.ID != k.ID {
		t.Fatalf("Bearer(token) = %+v, %v", got, err)
	}
	for _, bad := range []string{k.ID + ".wrong", k.ID, "SKAAAAAAAAAAAAAAAAAA." + k.Secret, "../x." + k.Secret} {
		if _, err := s.Bearer(ctx, bad); !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("Bearer(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if secret, err := s.Secret(got); err != nil || secret != k.Secret {
		t.Fatalf("Secret = %q, %v", secret, err)
	}
	// Under another node token the secret does not unseal.
	other, err := keys.Open(ctx, bus.JS, "another-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Secret(got); err == nil {
		t.Fatal("a secret unsealed under another node token")
	}

	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != k.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bearer(ctx, k.Token()); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("a revoked key's token: %v", err)
	}
	if err := s.Revoke(ctx, k.ID); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}

	for _, c := range []struct {
		scope   keys.Scope
		pattern string
	}{{"root", ""}, {keys.ScopeAdmin, "orders-*"}, {keys.ScopeDeploy, "[bad"}} {
		if _, err := s.Create(ctx, c.scope, c.pattern); !errors.Is(err, keys.ErrInvalid) {
			t.Errorf("Create(%q, %q) = %v, want ErrInvalid", c.scope, c.pattern, err)
		}
	}
}

func TestScopesAllow(t *testing.T) {
	admin := keys.Admin("t")
	deploy := keys.Key{Scope: keys.ScopeDeploy, Functions: "orders-*"}
	invoke := keys.Key{Scope: keys.ScopeInvoke}
	for _, c := range []struct {
		k    keys.Key
		a    keys.Action
		fn   string
		want bool
	}{
		{admin, keys.Administer, "", true},
		{admin, keys.Deploy, "anything", true},
		{deploy, keys.Deploy, "orders-api", true},
		{deploy, keys.Read, "orders-api", true},
		{deploy, keys.Invoke, "orders-api", true},
		{deploy, keys.Deploy, "billing", false},
		{deploy, keys.Invoke, "billing", false},
		{deploy, keys.Read, "", true}, // a list, cut entry by entry
		{deploy, keys.Administer, "", false},
		{invoke, keys.Invoke, "billing", true},
		{invoke, keys.Read, "billing", false},
		{invoke, keys.Deploy, "billing", false},
		{invoke, keys.Read, "", false},
		{invoke, keys.Invoke, "", true}, // an invocation by id: the handler checks its function
		{invoke, keys.Administer, "", false},
	} {
		if got := c.k.Allows(c.a, c.fn); got != c.want {
			t.Errorf("%s key limited to %q: Allows(%d, %q) = %v, want %v", c.k.Scope, c.k.Functions, c.a, c.fn, got, c.want)
		}
	}
}
