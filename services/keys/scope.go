package keys

import "path"

// Action is what a request does, as far as keys are concerned.
type Action int

// Actions, each allowed to some scopes.
const (
	// Invoke runs a function or reads one of its invocations: every scope. A route that reads an
	// invocation by id names no function: its handler checks the invocation's.
	Invoke Action = iota
	// Read reads a function's settings, code, versions, aliases, logs and metrics: deploy, admin.
	Read
	// Deploy changes a function (code, settings, versions, aliases, triggers, its dead letters):
	// deploy, admin.
	Deploy
	// Administer is the node's own business (keys, workers, billing, /metrics): admin only.
	Administer
)

// Admin is the caller holding the node's token.
func Admin(token string) Key { return Key{ID: AdminKeyID(token), Scope: ScopeAdmin} }

// Allows reports whether k may do a to function fn ("" when the action names none: a list, or
// the node's business).
func (k Key) Allows(a Action, fn string) bool {
	switch k.Scope {
	case ScopeAdmin:
		return true
	case ScopeDeploy:
		return a != Administer && k.Sees(fn)
	case ScopeInvoke:
		return a == Invoke && k.Sees(fn)
	}
	return false
}

// Sees reports whether fn is among the functions k is limited to ("" passes: the action names
// no function, and lists are cut with Sees per entry).
func (k Key) Sees(fn string) bool {
	if k.Functions == "" || fn == "" {
		return true
	}
	ok, err := path.Match(k.Functions, fn)
	return ok && err == nil
}
