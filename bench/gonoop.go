package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/runtimes/instance"
	sdk "sluice.dev/sdk"
)

// goNoopName is the Go no-op's function name on the node.
const goNoopName = "noop-go"

// goNoop is the Go no-op, with sluice's Go SDK (an aws-lambda-go style bootstrap: it reads
// AWS_LAMBDA_RUNTIME_API and serves the Runtime API's next/response loop).
var goNoop = map[string]string{
	"go.mod": "module noop\n\ngo 1.22\n\nrequire sluice.dev/sdk v0.0.0\n\nreplace sluice.dev/sdk => ../sdk\n",
	"main.go": `package main

import (
	"context"
	"encoding/json"

	sluice "sluice.dev/sdk"
)

func main() {
	sluice.Start(func(context.Context, json.RawMessage) (any, error) { return nil, nil })
}
`,
}

// buildGoNoop builds the Go no-op once, as sluice's deploy-time build does (the SDK this bench
// was built with, `-trimpath -ldflags=-s -w`, CGO off, for linux), into dir/pkg/bootstrap. The
// same file is deployed to sluice (a built bootstrap is taken as it is) and run under AWS
// Lambda RIE, so both rows run one binary. It returns the folder holding only the bootstrap.
func buildGoNoop(ctx context.Context, dir string) (string, error) {
	src, sdkDir, pkg := filepath.Join(dir, "src"), filepath.Join(dir, "sdk"), filepath.Join(dir, "pkg")
	for _, d := range []string{src, sdkDir, pkg} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	for name, text := range goNoop {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	if err := os.CopyFS(sdkDir, sdk.Source); err != nil {
		return "", fmt.Errorf("write the Go SDK: %w", err)
	}
	if err := fs.WalkDir(os.DirFS(sdkDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(filepath.Join(sdkDir, p), 0o644) // CopyFS keeps the embedded files' read-only mode
	}); err != nil {
		return "", err
	}
	goCmd := goTool()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", filepath.Join(pkg, "bootstrap"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s build of the Go no-op: %w: %s", goCmd, err, strings.TrimSpace(string(out)))
	}
	return pkg, nil
}

// goTool is the go command: the one on PATH, else a usual install.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"} {
		if fileExists(p) {
			return p
		}
	}
	return "go"
}

// deployGoNoop deploys the built Go no-op (max 2, as the Python one) and calls it once, which
// starts its first instance.
func deployGoNoop(ctx context.Context, n *node, pkg string) error {
	if _, err := n.sluice(ctx, "deploy", goNoopName, "--runtime", "go", "--handler", "bootstrap", "--source", pkg, "--max", "2"); err != nil {
		return fmt.Errorf("deploy the Go no-op: %w", err)
	}
	client := newClient(1)
	defer client.CloseIdleConnections()
	if err := firstAnswer(ctx, poster(client, n.URL+"/v1/functions/"+goNoopName+"/invocations", status200, "Authorization", "Bearer "+n.Token), 30*time.Second); err != nil {
		return fmt.Errorf("first call of the Go no-op: %w", err)
	}
	return nil
}

// measureAsyncGo sends asyncN events to the deployed Go no-op, as measureAsync does the
// Python one.
func measureAsyncGo(ctx context.Context, c config, n *node, nc *nats.Conn) throughput {
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	return asyncThrough(ctx, c, n, nc, client, goNoopName, c.asyncN)
}

// measureSyncGo measures warm synchronous calls of the Go no-op through its function URL at
// c=1, as measureSync does the Python one's.
func measureSyncGo(ctx context.Context, c config, n *node, r *results) (sample, error) {
	client := newClient(1)
	defer client.CloseIdleConnections()
	fn := poster(client, n.URL+"/fn/"+goNoopName, status200, "Authorization", "Bearer "+n.Token)
	warmUp(ctx, c.warm, fn)
	r.quiet(ctx, "sluice sync, Go no-op")
	return failures(load(ctx, c.syncN, 1, c.phaseCap, fn))
}

// failures turns a sample with failed requests into an error beside it.
func failures(s sample) (sample, error) {
	if s.errs > 0 {
		return s, fmt.Errorf("%d of %d requests failed, first: %v", s.errs, s.errs+len(s.lat), s.firstErr)
	}
	return s, nil
}

// goMaxProcs is the GOMAXPROCS sluice gives an instance of the Go no-op: its memory's CPU share,
// one CPU per 1769 MB rounded up (1 at the default memory). The run under RIE gets the same, so
// the peer rows compare the platforms rather than two settings of the Go scheduler.
var goMaxProcs = max(1, (instance.DefaultMemoryMB+1768)/1769)

// goNoopUnderRIE runs the built Go no-op under AWS Lambda RIE with the variables sluice sets
// for it that change how it runs.
func goNoopUnderRIE(ctx context.Context, c config, pkg string, r *results) (sample, error) {
	return measureRIE(ctx, c, r, "AWS Lambda RIE, Go no-op", pkg, []string{"_HANDLER=bootstrap", "GOMAXPROCS=" + strconv.Itoa(goMaxProcs)}, filepath.Join(pkg, "bootstrap"))
}
