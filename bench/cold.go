package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// coldRuntime is one runtime's cold-start measurement: a hello function and the bare start of
// the interpreter the worker runs it with.
type coldRuntime struct {
	runtime, handler, code string
	bare                   []string // the bare interpreter start, e.g. python3 -c pass
}

var coldRuntimes = []coldRuntime{
	{runtime: "python", handler: "main.handler",
		code: "def handler(event, context):\n    return {'hello': 'world'}\n",
		bare: []string{interpreter("python3"), "-c", "pass"}},
	{runtime: "nodejs", handler: "index.handler",
		code: "exports.handler = async () => ({hello: 'world'});\n",
		bare: []string{interpreter("node"), "-e", "0"}},
}

// interpreter prefers Debian's interpreter, which is the one the worker resolves first, so the
// baseline starts the same binary as the functions run on.
func interpreter(name string) string {
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// coldResult holds one runtime's rows.
type coldResult struct {
	cold, warm, bare sample
}

// measureCold deploys c.coldN functions of each runtime and invokes each once (no instance of
// it exists yet: a cold start), pausing between them so the worker's pre-started processes are
// back; then the last one again (warm), and the bare interpreter start as many times.
func measureCold(ctx context.Context, c config, n *node, r *results) {
	client := newClient(1)
	defer client.CloseIdleConnections()
	auth := []string{"Authorization", "Bearer " + n.Token}
	r.cold = map[string]coldResult{}
	for _, rt := range coldRuntimes {
		var res coldResult
		var names []string
		for i := range c.coldN {
			name := fmt.Sprintf("cold-%s-%d", rt.runtime, i)
			if _, err := n.sluice(ctx, "deploy", name, "--runtime", rt.runtime, "--handler", rt.handler, "--inline", rt.code); err != nil {
				r.note("deploy %s: %v", name, err)
				return
			}
			names = append(names, name)
		}
		for _, name := range names {
			sleepCtx(ctx, c.coldPause) // the pre-started process taken by the last one is replaced
			invoke := poster(client, n.URL+"/v1/functions/"+name+"/invocations", status200, auth...)
			res.cold.add(ctx, invoke)
		}
		last := poster(client, n.URL+"/v1/functions/"+names[len(names)-1]+"/invocations", status200, auth...)
		res.warm = load(ctx, c.coldN, 1, c.phaseCap, last)
		for range c.coldN {
			res.bare.add(ctx, func(ctx context.Context) error {
				return exec.CommandContext(ctx, rt.bare[0], rt.bare[1:]...).Run()
			})
		}
		if res.cold.errs+res.bare.errs > 0 {
			r.note("cold %s: %d invocations and %d bare starts failed, first: %v %v", rt.runtime, res.cold.errs, res.bare.errs, res.cold.firstErr, res.bare.firstErr)
		}
		r.cold[rt.runtime] = res
	}
}

// add times one call into the sample.
func (s *sample) add(ctx context.Context, do func(context.Context) error) {
	t0 := time.Now()
	err := do(ctx)
	d := time.Since(t0)
	s.elapsed += d
	if err != nil {
		s.errs++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	s.lat = append(s.lat, d)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
