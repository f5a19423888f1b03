// Command task runs the project's tasks: `go tool task NAME...` runs each named task (and the
// tasks it needs, once each) from the repository's root, wherever it is started;
// `go tool task --list` lists them. NAME=VALUE arguments set variables (FUZZTIME=30s).
//
// The tasks are Go code with no dependency beyond the standard library, so the first
// `go tool task up` on a fresh machine compiles only standard packages (which sluice's own build
// then reuses) before it builds sluice itself. Waiting for a node goes through the sluice CLI,
// so the runner needs no HTTP or TLS code.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run runs the tasks args name and returns the exit code.
func run(ctx context.Context, args []string) int {
	tasks := catalogue()
	var names []string
	for _, a := range args {
		switch {
		case a == "-l" || a == "--list" || a == "--list-all" || a == "-h" || a == "--help":
			list(tasks)
			return 0
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "task: unknown flag %s (go tool task --list shows the tasks)\n", a)
			return 2
		case strings.Contains(a, "="):
			k, v, _ := strings.Cut(a, "=")
			os.Setenv(k, v)
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		list(tasks)
		return 2
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "task:", err)
		return 1
	}
	r := &runner{root: root, tasks: tasks, done: map[string]bool{}}
	for _, name := range names {
		if err := r.need(ctx, name); err != nil {
			fmt.Fprintln(os.Stderr, "task:", err)
			var exit *exitError
			if errors.As(err, &exit) {
				return exit.code
			}
			return 1
		}
	}
	return 0
}

// list prints the tasks and what each does.
func list(tasks map[string]task) {
	fmt.Println("go tool task NAME... runs these, from the repository's root:")
	for _, name := range sortedNames(tasks) {
		fmt.Printf("  %-12s %s\n", name, tasks[name].desc)
	}
}

// repoRoot is the folder holding go.work, found from the working directory upward.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work in this folder or above it: run go tool task inside the repository")
		}
		dir = parent
	}
}
