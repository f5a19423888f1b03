package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
)

// goNoop is the Go no-op, with sluice's Go SDK (the worker builds it at deploy and points
// sluice.dev/sdk at the SDK it ships).
var goNoop = map[string]string{
	"go.mod": "module noop\n\ngo 1.22\n\nrequire sluice.dev/sdk v0.0.0\n",
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

// measureAsyncGo deploys the Go no-op (max 2, as the Python one) and sends it asyncN events, as
// measureAsync does the Python one.
func measureAsyncGo(ctx context.Context, c config, n *node, nc *nats.Conn) throughput {
	dir, err := os.MkdirTemp("", "sluice-bench-go-")
	if err != nil {
		return throughput{err: err}
	}
	defer os.RemoveAll(dir)
	for name, src := range goNoop {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return throughput{err: err}
		}
	}
	// The first Go build on a machine compiles the standard library once (about a minute).
	if _, err := n.sluice(ctx, "deploy", "noop-go", "--runtime", "go", "--handler", "bootstrap", "--source", dir, "--max", "2"); err != nil {
		return throughput{err: fmt.Errorf("deploy the Go no-op: %w", err)}
	}
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	// Its first event starts an instance; the measured run finds it warm, as the Python one does.
	if err := firstAnswer(ctx, poster(client, n.URL+"/v1/functions/noop-go/invocations", status200, "Authorization", "Bearer "+n.Token), 30*time.Second); err != nil {
		return throughput{err: fmt.Errorf("first call of the Go no-op: %w", err)}
	}
	return asyncThrough(ctx, c, n, nc, client, "noop-go", c.asyncN)
}
