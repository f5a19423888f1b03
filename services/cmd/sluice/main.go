package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"sluice.dev/services/cli"
	"sluice.dev/services/node"
)

func main() {
	runtime.GOMAXPROCS(node.Procs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, roles{})
	stop()
	os.Exit(code)
}

// roles runs the node package's servers with the options the command line filled.
type roles struct{}

func (roles) Up(ctx context.Context, o node.UpOptions) error { return node.Up(ctx, o) }

func (roles) Serve(ctx context.Context, o node.ServeOptions) error { return node.Serve(ctx, o) }
