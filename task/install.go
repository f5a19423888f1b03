package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// minioVersion is the MinIO server the object-storage tests run against (it has no semver tags:
// a pinned commit). compose/Dockerfile builds the same one. It is the tree of
// RELEASE.2025-10-15T17-29-55Z but for its last two commits, the newest build the module proxy
// serves whose listen stream flushes: from 2025-10-24 on, the S3 handlers' response writer hides
// http.Flusher, so live bucket notifications never leave the server.
const minioVersion = "v0.0.0-20251010190053-334c313da4b6"

// rieVersion is AWS Lambda's Runtime Interface Emulator, the bench's peer row (no tags that the
// module proxy serves: a pinned commit).
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// natsServerModule is the nats-server sluice embeds; the cluster tests run three of it as
// processes, at the version services/go.mod requires.
const natsServerModule = "github.com/nats-io/nats-server/v2"

func installMinIO(ctx context.Context, r *runner) error {
	if r.executable("bin/minio") {
		// A go-installed binary names its module version; another pin is installed over it.
		have, err := r.output(ctx, r.root, "go", "version", "-m", "bin/minio")
		if err == nil && strings.Contains(have, "\tgithub.com/minio/minio\t"+minioVersion+"\t") {
			return nil
		}
	}
	return r.install(ctx, "github.com/minio/minio@"+minioVersion)
}

func installNATSServer(ctx context.Context, r *runner) error {
	version, err := r.output(ctx, r.root, "go", "list", "-m", "-f", "{{.Version}}", natsServerModule)
	if err != nil {
		return err
	}
	version = strings.TrimSpace(version)
	if r.executable("bin/nats-server") {
		have, err := r.output(ctx, r.root, "bin/nats-server", "--version")
		if err == nil && strings.TrimSpace(have) == "nats-server: "+version {
			return nil
		}
	}
	return r.install(ctx, natsServerModule+"@"+version)
}

func installRIE(ctx context.Context, r *runner) error {
	if r.executable("bin/aws-lambda-rie") {
		return nil
	}
	return r.install(ctx, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+rieVersion)
}

// install runs go install of pkg@version into the root's bin folder.
func (r *runner) install(ctx context.Context, pkgAtVersion string) error {
	gobin := "GOBIN=" + filepath.Join(r.root, "bin")
	if err := r.exec(ctx, command{env: []string{gobin}, args: []string{"go", "install", pkgAtVersion}}); err != nil {
		return fmt.Errorf("install %s: %w", pkgAtVersion, err)
	}
	return nil
}
