package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// ErrInUse marks a version that cannot be deleted: an alias points at it, or it is the latest.
var ErrInUse = fmt.Errorf("%w: version in use", ErrConflict)

// aliasRE is the form of alias names: a letter first, so that an alias never reads as a version
// number, and no dot or colon, which separate names from qualifiers.
var aliasRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidateAlias checks an alias name.
func ValidateAlias(alias string) error {
	if !aliasRE.MatchString(alias) {
		return fmt.Errorf("%w: alias name %q: use a letter, then up to 63 letters, digits, '-' or '_'", ErrInvalid, alias)
	}
	if strings.EqualFold(alias, "latest") {
		return fmt.Errorf("%w: alias name %q is reserved for the newest version", ErrInvalid, alias)
	}
	return nil
}

// SetAlias points alias at a.Version, and when a.Additional is set, sends that share of the
// alias's invocations to a.Additional.Version. Both versions must exist; the weight must be
// strictly between 0 and 1. It creates the alias or moves it, and returns the function's head.
func (r *Registry) SetAlias(ctx context.Context, name, alias string, a events.Alias) (events.Function, error) {
	if err := ValidateAlias(alias); err != nil {
		return events.Function{}, err
	}
	if w := a.Additional; w != nil {
		switch {
		case !(w.Weight > 0 && w.Weight < 1):
			return events.Function{}, fmt.Errorf("%w: alias %s: weight %v of version %d: use a share strictly between 0 and 1 (0.1 for 10%%)", ErrInvalid, alias, w.Weight, w.Version)
		case w.Version == a.Version:
			return events.Function{}, fmt.Errorf("%w: alias %s: the weighted version %d is the alias's own version: name another one", ErrInvalid, alias, w.Version)
		}
	}
	for _, n := range aliasVersions(a) {
		if _, err := r.Version(ctx, name, n); err != nil {
			return events.Function{}, fmt.Errorf("alias %s: %w", alias, err)
		}
	}
	return r.updateHead(ctx, name, func(f *events.Function) error {
		if f.Aliases == nil {
			f.Aliases = map[string]events.Alias{}
		}
		a.Updated = r.now().UTC()
		f.Aliases[alias] = a
		return nil
	})
}

func aliasVersions(a events.Alias) []int {
	if a.Additional != nil {
		return []int{a.Version, a.Additional.Version}
	}
	return []int{a.Version}
}

// DeleteAlias removes an alias of the function.
func (r *Registry) DeleteAlias(ctx context.Context, name, alias string) error {
	_, err := r.updateHead(ctx, name, func(f *events.Function) error {
		if _, ok := f.Aliases[alias]; !ok {
			return fmt.Errorf("%w: function %q has no alias %q", ErrAliasNotFound, name, alias)
		}
		delete(f.Aliases, alias)
		return nil
	})
	return err
}

// DeleteVersion removes one version of a function. It refuses, with ErrInUse naming the reason,
// the latest version (delete the function instead, or deploy a newer one first) and a version an
// alias points at (move or delete the alias first).
//
// The head is rewritten (compare-and-set) before the version is removed, so an alias set at the
// same moment is checked again against the head; an alias written in the instant between that
// rewrite and the removal resolves to "not found" until it is moved.
func (r *Registry) DeleteVersion(ctx context.Context, name string, n int) error {
	if _, err := r.Version(ctx, name, n); err != nil {
		return err
	}
	_, err := r.updateHead(ctx, name, func(f *events.Function) error {
		if n == f.Latest {
			return fmt.Errorf("%w: version %d is the latest of %s: deploy a newer version first, or delete the function", ErrInUse, n, name)
		}
		var users []string
		for _, alias := range slices.Sorted(maps.Keys(f.Aliases)) {
			if f.Aliases[alias].Uses(n) {
				users = append(users, alias)
			}
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: version %d of %s is used by alias %s: move or delete the alias first (sluice alias set/delete)", ErrInUse, n, name, strings.Join(users, ", "))
		}
		return nil // the write itself moves the head's revision
	})
	if err != nil {
		return err
	}
	if err := r.kv.Purge(ctx, events.VersionKey(name, n)); err != nil {
		return fmt.Errorf("delete %s version %d: %w", name, n, err)
	}
	return nil
}

// updateHead applies change to the function's head and writes it with compare-and-set,
// retrying on concurrent writes. An error of change is returned as is and nothing is written.
func (r *Registry) updateHead(ctx context.Context, name string, change func(*events.Function) error) (events.Function, error) {
	if err := events.ValidateName(name); err != nil {
		return events.Function{}, fmt.Errorf("function %q %w", name, ErrNotFound)
	}
	for range maxDeployAttempts {
		head, rev, err := r.head(ctx, name)
		if err != nil {
			return events.Function{}, err
		}
		if err := change(&head); err != nil {
			return events.Function{}, err
		}
		b, err := events.EncodeFunction(head)
		if err != nil {
			return events.Function{}, fmt.Errorf("update %s: %w", name, err)
		}
		_, err = r.kv.Update(ctx, events.FunctionKey(name), b, rev)
		if err == nil {
			return head, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return events.Function{}, fmt.Errorf("update %s: %w", name, err)
		}
	}
	return events.Function{}, fmt.Errorf("update %s: %w: too many concurrent changes, try again", name, ErrConflict)
}
