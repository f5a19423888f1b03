package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/archive"
)

// Builder is what the registry needs of a runtime catalog whose runtimes compile code at deploy
// (C# sources, Go): whether a runtime does, and the build itself, for the function named
// function (which keys the build's caches). A Runtimes that is also a Builder gets its builds
// run once per deployed version.
type Builder interface {
	Builds(runtime string) bool
	Build(ctx context.Context, function, runtime, handler, src, dst string) (output []byte, err error)
}

// Checker is what the registry asks of a runtime catalog that knows its toolchains: a deploy of a
// runtime whose toolchain is missing is refused with the catalog's error, which names what to
// install.
type Checker interface {
	Check(runtime string) error
}

// Concurrent is what the registry asks of a runtime catalog that knows which runtimes serve
// several invocations of one instance at once: a concurrency above 1 for any other runtime is
// refused, naming those that can.
type Concurrent interface {
	Concurrent(runtime string) bool
	ConcurrentRuntimes() []string
}

// ErrBuild marks code that does not build; the error carries the toolchain's output.
var ErrBuild = errors.New("build failed")

type built struct {
	built events.CodeRef
	info  events.BuildInfo
}

// build runs the runtime's build of function name on the uploaded package and stores what it
// made; nil when the runtime does not build.
func (r *Registry) build(ctx context.Context, name string, cfg events.Config, src events.CodeRef) (*built, error) {
	b, ok := r.rt.(Builder)
	if !ok || !b.Builds(cfg.Runtime) {
		return nil, nil
	}
	started := time.Now()
	zip, err := r.Code(ctx, src.SHA256)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sluice-build-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	in, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
	if err := archive.Extract(ctx, zip, in, r.limits); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	output, err := b.Build(ctx, name, cfg.Runtime, cfg.Handler, in, out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w\n%s", ErrInvalid, ErrBuild, err, output)
	}
	pkg, err := archive.FromDir(out)
	if err != nil {
		return nil, fmt.Errorf("build: package the output: %w", err)
	}
	ref, err := r.PutCode(ctx, pkg)
	if err != nil {
		return nil, fmt.Errorf("build: store the output: %w", err)
	}
	return &built{built: ref, info: events.BuildInfo{
		Source: src, Output: string(output), DurationMs: float64(time.Since(started).Microseconds()) / 1000,
	}}, nil
}
