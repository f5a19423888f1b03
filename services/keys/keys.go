// Package keys owns sluice's access keys: an id and a secret, issued with a scope (admin, deploy
// or invoke) and optionally limited to functions whose names match a pattern. Keys live in the
// sluice_keys bucket. A key is used two ways, so its secret is kept two ways: hashed, to check a
// bearer token ("ID.SECRET"), and sealed (AES-256-GCM under a key derived from the node's token),
// because an AWS Signature Version 4 can only be checked with the secret itself. Whoever holds
// the node's token is the admin already; the bus alone reveals no secret.
//
// The node's token stays the admin credential: as a bearer token, and as the secret of the
// admin key id (AdminKeyID) for signed requests.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Scope is what a key may do.
type Scope string

// Scopes, widest first.
const (
	// ScopeAdmin does everything the node's token does.
	ScopeAdmin Scope = "admin"
	// ScopeDeploy manages and reads functions (code, settings, versions, aliases, logs, triggers
	// on them) and invokes them.
	ScopeDeploy Scope = "deploy"
	// ScopeInvoke invokes functions and reads its invocations' status, nothing else.
	ScopeInvoke Scope = "invoke"
)

// Errors of the store.
var (
	ErrNotFound = errors.New("no such access key")
	ErrInvalid  = errors.New("invalid access key request")
)

// Key is one access key as stored; its secret never is, in clear.
type Key struct {
	ID string `json:"id"`
	// Scope is what the key may do.
	Scope Scope `json:"scope"`
	// Functions limits the key to functions whose names match it (path.Match: orders-*); "" is
	// every function. An admin key has none.
	Functions string    `json:"functions,omitempty"`
	Created   time.Time `json:"created"`
	// SecretSHA256 is the hex SHA-256 of the secret, for bearer tokens.
	SecretSHA256 string `json:"secretSha256"`
	// Sealed is the secret under AES-256-GCM (nonce first), for signatures.
	Sealed []byte `json:"sealed"`
}

// Issued is a key just created, with its secret: the only time the secret is shown.
type Issued struct {
	Key
	Secret string `json:"secretAccessKey"`
}

// Token is the key's bearer token: ID.SECRET.
func (i Issued) Token() string { return i.ID + "." + i.Secret }

// AdminKeyID is the access key id whose secret is the node's token: AWS's clients sign with it
// (AWS_ACCESS_KEY_ID) and the token (AWS_SECRET_ACCESS_KEY) as the node's admin.
func AdminKeyID(token string) string {
	sum := sha256.Sum256([]byte("sluice admin key\x00" + token))
	return "SLUICE" + base32.StdEncoding.EncodeToString(sum[:])[:14]
}

// idPattern is what issued ids look like; other ids are never looked up.
var idPattern = regexp.MustCompile(`^SK[A-Z2-7]{18}$`)

// Store keeps the keys in the sluice_keys bucket.
type Store struct {
	kv   jetstream.KeyValue
	aead cipher.AEAD
	now  func() time.Time
}

// Open opens the keys bucket, sealing secrets under a key derived from the node's token.
func Open(ctx context.Context, js jetstream.JetStream, token string) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketKeys)
	if err != nil {
		return nil, fmt.Errorf("keys: open bucket %s: %w", events.BucketKeys, err)
	}
	return newStore(kv, token)
}

func newStore(kv jetstream.KeyValue, token string) (*Store, error) {
	sealKey, err := hkdf.Key(sha256.New, []byte(token), nil, "sluice access key secrets", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Store{kv: kv, aead: aead, now: time.Now}, nil
}

// Create issues a key of scope, limited to functions matching pattern ("" for all).
func (s *Store) Create(ctx context.Context, scope Scope, pattern string) (Issued, error) {
	switch scope {
	case ScopeAdmin:
		if pattern != "" {
			return Issued{}, fmt.Errorf("%w: an admin key is not limited to functions", ErrInvalid)
		}
	case ScopeDeploy, ScopeInvoke:
	default:
		return Issued{}, fmt.Errorf("%w: scope %q: use admin, deploy or invoke", ErrInvalid, scope)
	}
	if _, err := path.Match(pattern, "x"); err != nil || len(pattern) > 128 {
		return Issued{}, fmt.Errorf("%w: functions pattern %q: a name with * and ? (orders-*), at most 128 characters", ErrInvalid, pattern)
	}
	idBytes, secretBytes := make([]byte, 12), make([]byte, 30)
	_, _ = rand.Read(idBytes) // crypto/rand.Read never fails
	_, _ = rand.Read(secretBytes)
	secret := base32.StdEncoding.EncodeToString(secretBytes)
	k := Key{
		ID:    "SK" + base32.StdEncoding.EncodeToString(idBytes)[:18],
		Scope: scope, Functions: pattern, Created: s.now().UTC(),
		SecretSHA256: hashSecret(secret),
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	k.Sealed = s.aead.Seal(nonce, nonce, []byte(secret), []byte(k.ID))
	b, err := json.Marshal(k)
	if err != nil {
		return Issued{}, fmt.Errorf("keys: %w", err)
	}
	if _, err := s.kv.Create(ctx, k.ID, b); err != nil {
		return Issued{}, fmt.Errorf("keys: store %s: %w", k.ID, err)
	}
	return Issued{Key: k, Secret: secret}, nil
}

// Get returns a key; ErrNotFound when there is none of that id.
func (s *Store) Get(ctx context.Context, id string) (Key, error) {
	if !idPattern.MatchString(id) {
		return Key{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Key{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("keys: read %s: %w", id, err)
	}
	var k Key
	if err := json.Unmarshal(e.Value(), &k); err != nil {
		return Key{}, fmt.Errorf("keys: decode %s: %w", id, err)
	}
	return k, nil
}

// List returns every key, oldest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	var out []Key
	for id := range lister.Keys() {
		k, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // revoked while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Key) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke deletes a key: from then on nothing it signs or carries is accepted.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	if err := s.kv.Purge(ctx, id); err != nil {
		return fmt.Errorf("keys: revoke %s: %w", id, err)
	}
	return nil
}

// Secret unseals the secret of key k, to check a signature made with it.
func (s *Store) Secret(k Key) (string, error) {
	n := s.aead.NonceSize()
	if len(k.Sealed) < n {
		return "", fmt.Errorf("keys: %s: sealed secret too short", k.ID)
	}
	b, err := s.aead.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte(k.ID))
	if err != nil {
		return "", fmt.Errorf("keys: %s: the secret does not unseal (was the node's token changed?): %w", k.ID, err)
	}
	return string(b), nil
}

// Bearer finds the key of a bearer token ID.SECRET; ErrNotFound when it names no key or its
// secret is wrong.
func (s *Store) Bearer(ctx context.Context, token string) (Key, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok {
		return Key{}, fmt.Errorf("%w: not a key's token", ErrNotFound)
	}
	k, err := s.Get(ctx, id)
	if err != nil {
		return Key{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(k.SecretSHA256)) != 1 {
		return Key{}, fmt.Errorf("%w: wrong secret for %s", ErrNotFound, id)
	}
	return k, nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
