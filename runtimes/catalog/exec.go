package catalog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	sdk "sluice.dev/sdk"

	"sluice.dev/runtimes/gobuild"
)

// allSpecs is every runtime: the interpreted ones of specs and those whose code brings its own
// executable.
func allSpecs(o Options) []spec {
	return append(specs(), execSpecs(o)...)
}

// execSpecs are the runtimes whose instances run the package's own bootstrap: go (built at
// deploy from source, or uploaded built) and custom (any executable implementing the Runtime
// API). Their handler is optional, as in Lambda, where the bootstrap ignores it.
func execSpecs(o Options) []spec {
	return []spec{{
		id:      "go",
		tool:    "go",
		install: "apt-get install golang-go (or a toolchain from go.dev/dl)",
		preferred: []string{
			"/usr/local/go/bin/go", "/usr/lib/go/bin/go",
		},
		exec:    gobuild.Executable,
		handler: execHandler("main.go"),
		build: func(ctx context.Context, j buildJob) ([]byte, error) {
			out, err := gobuild.Build(ctx, gobuild.Options{
				Go: j.tool, CacheDir: filepath.Join(o.cacheDir(), "go"), SDK: sdk.Source, Getenv: o.getenv,
				CacheKey: j.function, Runner: j.run, SeedDir: o.seedDir(),
			}, j.src, j.dst)
			switch {
			case errors.Is(err, gobuild.ErrNoToolchain):
				return out, fmt.Errorf("%w: %w", ErrMissingToolchain, err)
			case err != nil:
				return out, fmt.Errorf("%w: %w", ErrBuild, err)
			}
			return out, nil
		},
	}, {
		id:      "custom",
		exec:    "bootstrap",
		handler: execHandler("bootstrap"),
	}}
}

// execHandler accepts any handler (or none): the bootstrap reads _HANDLER if it wants to.
// Inline code is stored as inline.
func execHandler(inline string) func(string) (string, error) {
	return func(h string) (string, error) {
		if len(h) > 128 || strings.ContainsAny(h, "\x00\r\n") {
			return "", fmt.Errorf("%w %q: at most 128 characters on one line (the bootstrap reads it from _HANDLER)", ErrBadHandler, h)
		}
		return inline, nil
	}
}
