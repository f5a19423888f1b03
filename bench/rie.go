package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"sluice.dev/runtimes/python"
)

// rieInvoke is the path AWS Lambda's Runtime Interface Emulator serves its one function on.
const rieInvoke = "/2015-03-31/functions/function/invocations"

// pythonUnderRIE runs the same Python no-op, through sluice's own Python bootstrap, under AWS
// Lambda RIE.
func pythonUnderRIE(ctx context.Context, c config, r *results) (sample, error) {
	dir, err := os.MkdirTemp("", "sluice-bench-rie-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	for name, src := range map[string]string{"main.py": noopFunction, "bootstrap.py": python.Bootstrap} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return sample{}, err
		}
	}
	return measureRIE(ctx, c, r, "AWS Lambda RIE, Python no-op", dir, []string{"_HANDLER=main.handler"}, interpreter("python3"), filepath.Join(dir, "bootstrap.py"))
}

// measureRIE runs a function's runtime command (its bootstrap and arguments), with root as
// its task root, under AWS Lambda's Runtime Interface Emulator (a peer: one function, one
// process, no bus, no sandbox) and measures warm synchronous calls at c=1, as measureSync does
// sluice's function URL.
func measureRIE(ctx context.Context, c config, r *results, phase, root string, env []string, command ...string) (sample, error) {
	bin, err := filepath.Abs(c.rie) // the emulator runs in root
	if err != nil {
		return sample{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return sample{}, err
	}
	logFile, err := os.CreateTemp("", "sluice-bench-rie-*.log")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	rie := exec.CommandContext(ctx, bin, append([]string{"--runtime-interface-emulator-address", addr}, command...)...)
	rie.Dir = root
	rie.Env = append(append(os.Environ(), "LAMBDA_TASK_ROOT="+root), env...)
	rie.Stdout, rie.Stderr = logFile, logFile // RIE prints START/END/REPORT for every call
	if err := rie.Start(); err != nil {
		return sample{}, fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() { _ = rie.Process.Kill(); _ = rie.Wait() }()

	client := newClient(1)
	defer client.CloseIdleConnections()
	do := poster(client, "http://"+addr+rieInvoke, status200)
	if err := firstAnswer(ctx, do, 10*time.Second); err != nil {
		return sample{}, fmt.Errorf("RIE at %s: %w", addr, err)
	}
	warmUp(ctx, c.warm, do)
	r.quiet(ctx, phase)
	return failures(load(ctx, c.syncN, 1, c.phaseCap, do))
}

// firstAnswer calls do until it succeeds (the emulator starts its runtime on the first call),
// for at most limit.
func firstAnswer(ctx context.Context, do func(context.Context) error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := do(ctx)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
