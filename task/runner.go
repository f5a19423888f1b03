package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// A task is one thing `go tool task` does.
type task struct {
	desc  string
	needs []string // tasks run first, once per invocation
	run   func(ctx context.Context, r *runner) error
}

// runner runs tasks from the repository's root, each at most once.
type runner struct {
	root  string
	tasks map[string]task
	done  map[string]bool
}

// exitError is a command's non-zero exit, passed on as the runner's own.
type exitError struct {
	cmd  string
	code int
}

func (e *exitError) Error() string { return fmt.Sprintf("%s: exit status %d", e.cmd, e.code) }

// need runs the task name after the tasks it needs, unless this invocation ran it already.
func (r *runner) need(ctx context.Context, name string) error {
	t, ok := r.tasks[name]
	if !ok {
		return fmt.Errorf("no task named %q (go tool task --list shows them)", name)
	}
	if r.done[name] {
		return nil
	}
	r.done[name] = true
	for _, dep := range t.needs {
		if err := r.need(ctx, dep); err != nil {
			return err
		}
	}
	if err := t.run(ctx, r); err != nil {
		return fmt.Errorf("[%s] %w", name, err)
	}
	return nil
}

// command is one program to run: in dir (the root when empty), with env added to the runner's.
type command struct {
	dir  string
	env  []string
	args []string
	out  io.Writer // standard output, os.Stdout when nil
}

// exec runs c, echoing it first as Task did ("task: [dir] args").
func (r *runner) exec(ctx context.Context, c command) error {
	where := ""
	if c.dir != "" && c.dir != r.root {
		where = "(in " + strings.TrimPrefix(strings.TrimPrefix(c.dir, r.root), "/") + ") "
	}
	fmt.Fprintf(os.Stderr, "task: %s%s\n", where, strings.Join(append(slices.Clone(c.env), c.args...), " "))
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Dir = r.root
	if c.dir != "" {
		cmd.Dir = c.dir
	}
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if c.out != nil {
		cmd.Stdout = c.out
	}
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() > 0 {
			return &exitError{cmd: c.args[0], code: exit.ExitCode()}
		}
		return fmt.Errorf("%s: %w", c.args[0], err)
	}
	return nil
}

// sh runs args in the root.
func (r *runner) sh(ctx context.Context, args ...string) error {
	return r.exec(ctx, command{args: args})
}

// output runs args in dir quietly and returns their standard output.
func (r *runner) output(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// modules are the folders of go.work's modules; with packagesOnly, those holding Go packages
// (the root module holds only this runner's, and is one of them).
func (r *runner) modules(ctx context.Context, packagesOnly bool) ([]string, error) {
	out, err := r.output(ctx, r.root, "go", "list", "-m", "-f", "{{.Dir}}\t{{.Path}}")
	if err != nil {
		return nil, err
	}
	var dirs, patterns []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		dir, path, _ := strings.Cut(line, "\t")
		dirs = append(dirs, dir)
		patterns = append(patterns, path+"/...")
	}
	if !packagesOnly {
		return dirs, nil
	}
	out, err = r.output(ctx, r.root, append([]string{"go", "list", "-f", "{{.Module.Dir}}"}, patterns...)...)
	if err != nil {
		return nil, err
	}
	withPackages := strings.Fields(out)
	slices.Sort(withPackages)
	return slices.Compact(withPackages), nil
}

// sortedNames are the tasks' names in order.
func sortedNames(tasks map[string]task) []string {
	names := make([]string, 0, len(tasks))
	for name := range tasks {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
