// Package node assembles sluice's roles into running processes: Up runs everything in one
// process around an embedded NATS server; Serve runs one role against an existing bus.
package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// Endpoints are what a client needs to reach a running node.
type Endpoints struct {
	URL     string // API and gateway, e.g. http://127.0.0.1:8080
	Token   string // API bearer token
	NATSURL string // bus URL with credentials, for more roles to join
}

// UpOptions configure an all-in-one node.
type UpOptions struct {
	DataDir string          // bus store, credentials, code cache
	Listen  string          // API and gateway address
	Logger  *slog.Logger    //
	Ready   func(Endpoints) // called once everything serves
	Stderr  io.Writer
}

// ServeOptions configure one role against an existing bus.
type ServeOptions struct {
	Role    string // gateway, worker, scaler or adapters
	NATSURL string
	DataDir string
	Listen  string
	Token   string
	Logger  *slog.Logger
}

// Up runs an all-in-one node until ctx is cancelled, then drains and stops.
func Up(ctx context.Context, o UpOptions) error { return errors.New("not built yet") }

// Serve runs one role until ctx is cancelled.
func Serve(ctx context.Context, o ServeOptions) error { return errors.New("not built yet") }
