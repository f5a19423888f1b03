package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/archive"
)

// Errors of the registry.
var (
	ErrNotFound        = errors.New("not found")
	ErrCodeNotFound    = fmt.Errorf("code %w", ErrNotFound)
	ErrVersionNotFound = fmt.Errorf("version %w", ErrNotFound)
	ErrAliasNotFound   = fmt.Errorf("alias %w", ErrNotFound)
	ErrTriggerNotFound = fmt.Errorf("trigger %w", ErrNotFound)
	ErrInvalid         = errors.New("invalid")
	ErrConflict        = errors.New("conflict")
)

// Runtimes is what the registry needs of the runtime catalog: whether a runtime id is known and a
// handler has its form. The error says what would be accepted.
type Runtimes interface {
	Validate(runtime, handler string) error
}

// Registry reads and writes functions, versions and code on the bus.
type Registry struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	trig   jetstream.KeyValue // sluice_triggers
	code   jetstream.ObjectStore
	rt     Runtimes
	limits archive.Limits
	fetch  Fetcher // nil: no object storage
	now    func() time.Time
}

// New opens the registry's bucket and object store, which events.Ensure has created. limits
// bound the code packages PutCode accepts.
func New(js jetstream.JetStream, rt Runtimes, limits archive.Limits, opts ...Option) (*Registry, error) {
	if rt == nil {
		return nil, errors.New("registry: no runtime catalog")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketFunctions)
	if err != nil {
		return nil, fmt.Errorf("registry: open bucket %s: %w", events.BucketFunctions, err)
	}
	trig, err := js.KeyValue(ctx, events.BucketTriggers)
	if err != nil {
		return nil, fmt.Errorf("registry: open bucket %s: %w", events.BucketTriggers, err)
	}
	obj, err := js.ObjectStore(ctx, events.ObjectCode)
	if err != nil {
		return nil, fmt.Errorf("registry: open object store %s: %w", events.ObjectCode, err)
	}
	r := &Registry{js: js, kv: kv, trig: trig, code: obj, rt: rt, limits: limits, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// PutCode checks the package (archive.Check with the registry's limits) and stores it under its
// sha256, unless it is stored already. A bad archive stores nothing and returns the archive
// error.
func (r *Registry) PutCode(ctx context.Context, zip []byte) (events.CodeRef, error) {
	if err := archive.Check(zip, r.limits); err != nil {
		return events.CodeRef{}, fmt.Errorf("put code: %w", err)
	}
	sum := sha256.Sum256(zip)
	ref := events.CodeRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(zip))}
	if info, err := r.code.GetInfo(ctx, ref.SHA256); err == nil && !info.Deleted && int64(info.Size) == ref.Size {
		return ref, nil
	} else if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return events.CodeRef{}, fmt.Errorf("put code %s: %w", ref.SHA256, err)
	}
	meta := jetstream.ObjectMeta{Name: ref.SHA256, Description: "code package"}
	if _, err := r.code.Put(ctx, meta, bytes.NewReader(zip)); err != nil {
		return events.CodeRef{}, fmt.Errorf("put code %s: %w", ref.SHA256, err)
	}
	return ref, nil
}

// Code returns the package stored under sha256.
func (r *Registry) Code(ctx context.Context, sha string) ([]byte, error) {
	if !shaRE.MatchString(sha) {
		return nil, fmt.Errorf("%w: code sha256 %q: want 64 lower-case hex digits", ErrInvalid, sha)
	}
	b, err := r.code.GetBytes(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s: upload it first (POST /v1/code)", ErrCodeNotFound, sha)
	}
	if err != nil {
		return nil, fmt.Errorf("get code %s: %w", sha, err)
	}
	return b, nil
}

func (r *Registry) codeInfo(ctx context.Context, sha string) (events.CodeRef, error) {
	if !shaRE.MatchString(sha) {
		return events.CodeRef{}, fmt.Errorf("%w: code sha256 %q: want 64 lower-case hex digits", ErrInvalid, sha)
	}
	info, err := r.code.GetInfo(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) || (err == nil && info.Deleted) {
		return events.CodeRef{}, fmt.Errorf("%w: %s: upload it first (POST /v1/code)", ErrCodeNotFound, sha)
	}
	if err != nil {
		return events.CodeRef{}, fmt.Errorf("code %s: %w", sha, err)
	}
	return events.CodeRef{SHA256: sha, Size: int64(info.Size)}, nil
}

// maxDeployAttempts bounds the compare-and-set loops against concurrent deploys.
const maxDeployAttempts = 1000

// Deploy validates cfg (filling defaults for zero fields, see WithDefaults), checks that the code
// exists, creates the function's consumer, and writes the next immutable version, which becomes
// the function's latest. Deploying an existing name makes a new version of it.
func (r *Registry) Deploy(ctx context.Context, name string, cfg events.Config, code events.CodeRef) (events.Version, error) {
	return r.DeployFrom(ctx, name, cfg, code, "")
}

// DeployFrom is Deploy recording where the code came from (an s3:// URL, an inline edit) in the
// version's Origin.
func (r *Registry) DeployFrom(ctx context.Context, name string, cfg events.Config, code events.CodeRef, origin string) (events.Version, error) {
	if err := events.ValidateName(name); err != nil {
		return events.Version{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cfg = WithDefaults(cfg)
	if err := validate(cfg); err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: %w: %w", name, ErrInvalid, err)
	}
	if err := r.rt.Validate(cfg.Runtime, cfg.Handler); err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: %w: %w", name, ErrInvalid, err)
	}
	if c, ok := r.rt.(Checker); ok {
		if err := c.Check(cfg.Runtime); err != nil {
			return events.Version{}, fmt.Errorf("deploy %s: %w: %w", name, ErrInvalid, err)
		}
	}
	if c, ok := r.rt.(Concurrent); ok && cfg.Concurrency > 1 && !c.Concurrent(cfg.Runtime) {
		return events.Version{}, fmt.Errorf("deploy %s: %w: runtime %s serves one invocation per instance at a time: concurrency %d needs one of %s",
			name, ErrInvalid, cfg.Runtime, cfg.Concurrency, strings.Join(c.ConcurrentRuntimes(), ", "))
	}
	ref, err := r.codeInfo(ctx, code.SHA256)
	if err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	build, err := r.build(ctx, name, cfg, ref)
	if err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	if build != nil {
		ref = build.built
	}
	if _, err := r.js.CreateOrUpdateConsumer(ctx, events.StreamInvoke, events.ConsumerConfig(name)); err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: create consumer: %w", name, err)
	}
	head, _, err := r.head(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return events.Version{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	v := events.Version{Function: name, Version: head.Latest, Config: cfg, Code: ref, Origin: origin, Created: r.now().UTC()}
	if build != nil {
		v.Build = &build.info
	}
	// Claim the next free number: creating the version key succeeds for exactly one deploy.
	for attempt := 0; ; attempt++ {
		if attempt == maxDeployAttempts {
			return events.Version{}, fmt.Errorf("deploy %s: %w: too many concurrent deploys, try again", name, ErrConflict)
		}
		v.Version++
		b, err := events.EncodeVersion(v)
		if err != nil {
			return events.Version{}, fmt.Errorf("deploy %s: %w", name, err)
		}
		_, err = r.kv.Create(ctx, events.VersionKey(name, v.Version), b)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return events.Version{}, fmt.Errorf("deploy %s: write version %d: %w", name, v.Version, err)
		}
	}
	if err := r.advance(ctx, name, v.Version, v.Created); err != nil {
		return events.Version{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	return v, nil
}

// advance moves the head's latest to n (never backwards), creating the head if needed.
func (r *Registry) advance(ctx context.Context, name string, n int, at time.Time) error {
	for attempt := 0; attempt < maxDeployAttempts; attempt++ {
		head, rev, err := r.head(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			head = events.Function{Name: name, Latest: n, Created: at, Updated: at}
			var b []byte
			if b, err = events.EncodeFunction(head); err == nil {
				_, err = r.kv.Create(ctx, events.FunctionKey(name), b)
			}
		case err != nil:
			return err
		case head.Latest >= n:
			return nil
		default:
			head.Latest, head.Updated = n, at
			var b []byte
			if b, err = events.EncodeFunction(head); err == nil {
				_, err = r.kv.Update(ctx, events.FunctionKey(name), b, rev)
			}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("update head: %w", err)
		}
	}
	return fmt.Errorf("%w: too many concurrent deploys, try again", ErrConflict)
}

func (r *Registry) head(ctx context.Context, name string) (events.Function, uint64, error) {
	e, err := r.kv.Get(ctx, events.FunctionKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return events.Function{}, 0, fmt.Errorf("function %q %w: deploy it first (sluice deploy %s ...)", name, ErrNotFound, name)
	}
	if err != nil {
		return events.Function{}, 0, fmt.Errorf("function %s: %w", name, err)
	}
	f, err := events.DecodeFunction(e.Value())
	if err != nil {
		return events.Function{}, 0, fmt.Errorf("function %s: decode head: %w", name, err)
	}
	return f, e.Revision(), nil
}

// Function returns a function's head record.
func (r *Registry) Function(ctx context.Context, name string) (events.Function, error) {
	if err := events.ValidateName(name); err != nil {
		return events.Function{}, fmt.Errorf("function %q %w", name, ErrNotFound)
	}
	f, _, err := r.head(ctx, name)
	return f, err
}

// Version returns one version of a function.
func (r *Registry) Version(ctx context.Context, name string, n int) (events.Version, error) {
	if events.ValidateName(name) != nil || n < 1 {
		return events.Version{}, fmt.Errorf("%w: function %q has no version %d", ErrVersionNotFound, name, n)
	}
	e, err := r.kv.Get(ctx, events.VersionKey(name, n))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return events.Version{}, fmt.Errorf("%w: function %q has no version %d (list them with sluice versions %s)", ErrVersionNotFound, name, n, name)
	}
	if err != nil {
		return events.Version{}, fmt.Errorf("function %s version %d: %w", name, n, err)
	}
	v, err := events.DecodeVersion(e.Value())
	if err != nil {
		return events.Version{}, fmt.Errorf("function %s version %d: decode: %w", name, n, err)
	}
	return v, nil
}

// Resolve finds the version a qualifier names: "" or "latest" (also "$LATEST") the newest, a
// number that version, anything else an alias of the function (a weighted alias draws its
// second version for its share of calls).
func (r *Registry) Resolve(ctx context.Context, name, qualifier string) (events.Version, error) {
	head, err := r.Function(ctx, name)
	if err != nil {
		return events.Version{}, err
	}
	switch q := strings.TrimSpace(qualifier); q {
	case "", "latest", "$LATEST":
		return r.Version(ctx, name, head.Latest)
	default:
		if n, err := strconv.Atoi(q); err == nil {
			return r.Version(ctx, name, n)
		}
		if a, ok := head.Aliases[q]; ok {
			return r.Version(ctx, name, a.Pick(rand.Float64()))
		}
		return events.Version{}, fmt.Errorf("%w: function %q has no version or alias %q", ErrAliasNotFound, name, q)
	}
}

// List returns every function's head record, by name.
func (r *Registry) List(ctx context.Context) ([]events.Function, error) {
	// Heads are one-token keys; versions are "name.vN".
	keys, err := r.keys(ctx, "*")
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	fns := make([]events.Function, 0, len(keys))
	for _, k := range keys {
		f, _, err := r.head(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		fns = append(fns, f)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// CheckDestinations checks that the functions the settings cfg of function fn name as
// destinations exist (fn itself aside), so no outcome is sent to a function nobody serves.
func (r *Registry) CheckDestinations(ctx context.Context, fn string, cfg events.Config) error {
	for _, s := range []string{cfg.OnSuccess, cfg.OnFailure} {
		d, err := events.ParseDestination(s)
		if err != nil || d.Kind != events.DestinationFunction || d.Target == fn {
			continue // CheckConfig refuses a bad one
		}
		if _, err := r.Function(ctx, d.Target); err != nil {
			return fmt.Errorf("destination %s: %w", s, err)
		}
	}
	return nil
}

// Head is a function's head record with its newest version.
type Head struct {
	events.Function
	Newest events.Version
}

// Heads returns, by name, every function that keep (nil: all) keeps, with its newest version;
// one deleted while listing is left out.
func (r *Registry) Heads(ctx context.Context, keep func(name string) bool) ([]Head, error) {
	fns, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Head, 0, len(fns))
	for _, f := range fns {
		if keep != nil && !keep(f.Name) {
			continue
		}
		v, err := r.Version(ctx, f.Name, f.Latest)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Head{Function: f, Newest: v})
	}
	return out, nil
}

// Versions returns every version of a function, oldest first.
func (r *Registry) Versions(ctx context.Context, name string) ([]events.Version, error) {
	if _, err := r.Function(ctx, name); err != nil {
		return nil, err
	}
	nums, err := r.versionNumbers(ctx, name)
	if err != nil {
		return nil, err
	}
	vs := make([]events.Version, 0, len(nums))
	for _, n := range nums {
		v, err := r.Version(ctx, name, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func (r *Registry) versionNumbers(ctx context.Context, name string) ([]int, error) {
	keys, err := r.keys(ctx, name+".*")
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", name, err)
	}
	var nums []int
	for _, k := range keys {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, name+".v")); err == nil && strings.HasPrefix(k, name+".v") {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums, nil
}

func (r *Registry) keys(ctx context.Context, filter string) ([]string, error) {
	kl, err := r.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, err
	}
	defer func() { _ = kl.Stop() }()
	seen := map[string]bool{}
	var keys []string
	for k := range kl.Keys() {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, ctx.Err()
}

// Delete removes a function: its head (so it stops resolving at once), its consumer, its pending
// invocations on the invocation stream, and its versions. Code packages stay; they may be shared.
func (r *Registry) Delete(ctx context.Context, name string) error {
	if _, err := r.Function(ctx, name); err != nil {
		return err
	}
	if err := r.kv.Purge(ctx, events.FunctionKey(name)); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := r.deleteTriggersOf(ctx, name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := r.js.DeleteConsumer(ctx, events.StreamInvoke, events.ConsumerName(name)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete %s: consumer: %w", name, err)
	}
	stream, err := r.js.Stream(ctx, events.StreamInvoke)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for _, subject := range events.InvokeFilters(name) {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return fmt.Errorf("delete %s: purge pending invocations: %w", name, err)
		}
	}
	nums, err := r.versionNumbers(ctx, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for _, n := range nums {
		if err := r.kv.Purge(ctx, events.VersionKey(name, n)); err != nil {
			return fmt.Errorf("delete %s version %d: %w", name, n, err)
		}
	}
	return nil
}
