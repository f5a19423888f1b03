package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// up runs a node on .data in the foreground and, once it answers, deploys every folder of
// examples/ (its deploy.args holds the runtime and handler, e.g. "--runtime python --handler
// main.handler"), then prints the URL and token. Ctrl-C (or SIGTERM) stops the node, and up
// returns when it has.
func up(ctx context.Context, r *runner) error {
	if err := os.MkdirAll(filepath.Join(r.root, ".data"), 0o755); err != nil {
		return err
	}
	node := exec.Command(bin, "up", "--data", ".data") // not ctx's: the node stops on its signal
	node.Dir, node.Stderr = r.root, os.Stderr
	stdout, err := node.StdoutPipe()
	if err != nil {
		return err
	}
	// A terminal's Ctrl-C reaches the node itself (same process group); SIGTERM to this runner
	// is passed on. Either way the runner waits for the node to stop.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	fmt.Fprintf(os.Stderr, "task: %s up --data .data\n", bin)
	if err := node.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var deploys sync.WaitGroup
	defer deploys.Wait()
	defer cancel()
	go func() {
		for sig := range signals {
			_ = node.Process.Signal(sig)
		}
	}()

	// The node prints SLUICE_URL=… and SLUICE_TOKEN=… once it listens.
	found := map[string]string{}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		fmt.Println(line)
		for _, key := range []string{"SLUICE_URL", "SLUICE_TOKEN"} {
			if v, ok := strings.CutPrefix(line, key+"="); ok && found[key] == "" {
				found[key] = v
				if url, token := found["SLUICE_URL"], found["SLUICE_TOKEN"]; url != "" && token != "" {
					deploys.Go(func() { r.deployExamples(ctx, url, token) })
				}
			}
		}
	}
	cancel()
	if err := node.Wait(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok && !exit.Exited() {
			return nil // stopped by its signal, as asked
		}
		return fmt.Errorf("node: %w", err)
	}
	return nil
}

// deployExamples waits for the node at url to be healthy, deploys examples/*, and prints where
// the console is.
func (r *runner) deployExamples(ctx context.Context, url, token string) {
	if !r.healthy(ctx, url, token) {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(r.root, "examples", "*", "deploy.args"))
	for _, argsFile := range dirs {
		dir := filepath.Dir(argsFile)
		name := filepath.Base(dir)
		args, err := os.ReadFile(argsFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "up: could not deploy %s: %v\n", name, err)
			continue
		}
		deploy := append([]string{bin, "deploy", name, "--source", "examples/" + name}, strings.Fields(string(args))...)
		cmd := exec.CommandContext(ctx, deploy[0], deploy[1:]...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = r.root, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "SLUICE_URL="+url, "SLUICE_TOKEN="+token)
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(os.Stderr, "up: could not deploy %s: %v\n", name, err)
		}
	}
	fmt.Printf("\n  url      %s\n  token    %s\n\n", url, token)
}

// healthy waits until the node at url answers the CLI (sluice list), for a minute at most. The
// runner asks through the binary, not an HTTP client of its own, so that a fresh machine compiles
// no HTTP or TLS code before it builds sluice.
func (r *runner) healthy(ctx context.Context, url, token string) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cmd := exec.CommandContext(ctx, bin, "list")
		cmd.Dir = r.root
		cmd.Env = append(os.Environ(), "SLUICE_URL="+url, "SLUICE_TOKEN="+token)
		if cmd.Run() == nil {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "up: %s did not answer within a minute; examples not deployed\n", url)
	return false
}
