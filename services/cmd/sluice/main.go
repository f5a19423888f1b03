package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"sluice.dev/services/cli"
	"sluice.dev/services/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, roles{})
	stop()
	os.Exit(code)
}

// roles runs the node package's servers for the CLI.
type roles struct{}

func (roles) Up(ctx context.Context, o cli.UpOptions) error {
	return node.Up(ctx, node.UpOptions{
		DataDir: o.DataDir, Listen: o.Listen, NoWorker: o.NoWorker, NoScaler: o.NoScaler, Logger: o.Logger, Stderr: o.Stderr,
		Isolation: o.Isolation, Network: o.Network, AllowHost: o.AllowHost, S3: o.S3, MemoryBudgetMB: o.MemoryBudgetMB,
		Observe: observe(o.Observe), StoreMax: o.Limits.StoreMax, MaxWaiting: o.Limits.MaxWaiting,
		Ready: func(e node.Endpoints) { o.Ready(cli.Endpoints{URL: e.URL, Token: e.Token, NATSURL: e.NATSURL}) },
	})
}

func (roles) Serve(ctx context.Context, o cli.ServeOptions) error {
	return node.Serve(ctx, node.ServeOptions{
		Role: o.Role, NATSURL: o.NATSURL, DataDir: o.DataDir, Listen: o.Listen, Token: o.Token, Logger: o.Logger,
		NATSAuth: o.NATSAuth, Replicas: o.Replicas,
		Isolation: o.Isolation, Network: o.Network, AllowHost: o.AllowHost, S3: o.S3, MemoryBudgetMB: o.MemoryBudgetMB,
		Observe: observe(o.Observe), StoreMax: o.Limits.StoreMax, MaxWaiting: o.Limits.MaxWaiting,
	})
}

func observe(o cli.ObserveOptions) node.Observe {
	return node.Observe{
		Metrics: o.Metrics, LogsMaxAge: o.LogsMaxAge, LogsMaxBytes: o.LogsMaxBytes,
		MetersMaxAge: o.MetersMaxAge, MetersMaxBytes: o.MetersMaxBytes, Prices: &o.Prices,
	}
}
