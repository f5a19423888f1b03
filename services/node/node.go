// Package node assembles sluice's roles into running processes: Up runs everything in one
// process around an embedded NATS server; Serve runs one role against an existing bus.
//
// Stopping is ordered so that nothing in flight is lost: the HTTP server stops accepting and
// finishes the calls it has (synchronous invocations still get their answers), then workers stop
// pulling and finish running invocations, then telemetry is flushed, then the bus connection is
// drained and the embedded server shut down.
package node

import (
	"io"
	"log/slog"
	"time"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/services/bus"
)

// Endpoints are what a client needs to reach a running node.
type Endpoints struct {
	URL     string // API and gateway, e.g. http://127.0.0.1:8080
	Token   string // API bearer token
	NATSURL string // bus URL with credentials, for more roles to join
}

// UpOptions configure an all-in-one node.
type UpOptions struct {
	DataDir   string          // bus store, credentials, code cache
	Listen    string          // API and gateway address; default 127.0.0.1:8080
	NoWorker  bool            // run without the in-process worker (events wait on the bus)
	NoScaler  bool            // run without the in-process scaler (join one with serve scaler)
	Isolation string          // auto (default), required or off: how the worker sandboxes instances
	Network   string          // egress (default) or none: the instances' network
	AllowHost []string        // host addresses (IPv4:port) the instances may reach
	S3        s3conf.Config   // object storage for code URLs and storage triggers; no Endpoint: none
	Logger    *slog.Logger    //
	Ready     func(Endpoints) // called once everything serves
	Stderr    io.Writer

	MemoryBudgetMB int // sum of the worker's instances' memory settings it may start; 0: half the machine's
	// Prestart sets how many pre-started processes the worker keeps per runtime (python,
	// nodejs, java, dotnet), over the default of worker.DefaultPrestart for each runtime this
	// machine can pre-start; nil keeps the defaults.
	Prestart map[string]int
	Observe  Observe // retention, prices (Observe.Metrics is for serve only)
	// StoreMax is the JetStream store's size, shared out among the streams and buckets; 0: 1/2 of
	// the data folder's free space at start (bus.SizeStore).
	StoreMax   int64
	MaxWaiting int // synchronous calls of one function the gateway lets wait at once; 0: gateway.DefaultMaxWaiting
}

// ServeOptions configure one role against an existing bus.
type ServeOptions struct {
	Role      string   // gateway, worker, scaler or adapters
	NATSURL   string   // one or more comma-separated server URLs, credentials in the URL allowed
	NATSAuth  bus.Auth // token, creds or NKey file, TLS files
	Replicas  int      // replicas of every stream, bucket and object store; 0: what the bus has (1 when new)
	DataDir   string
	Listen    string
	Token     string
	Isolation string        // as UpOptions.Isolation, for the worker role
	Network   string        // as UpOptions.Network
	AllowHost []string      // as UpOptions.AllowHost
	S3        s3conf.Config // as UpOptions.S3, for the gateway and adapters roles
	Logger    *slog.Logger
	Ready     func(Endpoints) // called once the role serves (URL set for the gateway)

	MemoryBudgetMB int            // as UpOptions.MemoryBudgetMB, for the worker role
	Prestart       map[string]int // as UpOptions.Prestart, for the worker role
	Observe        Observe        // metrics listener, retention, prices
	StoreMax       int64          // bytes of the bus's store to share out among the streams and buckets; 0: they keep their sizes
	MaxWaiting     int            // as UpOptions.MaxWaiting, for the gateway role
}

// DefaultListen is the API and gateway address of a node.
const DefaultListen = "127.0.0.1:8080"

// stopTimeout bounds each step of an orderly stop.
const stopTimeout = 30 * time.Second
