// Package wire holds the request and response bodies of sluice's HTTP API (docs/design.md §8),
// with the headers, limits and value formats the two sides share. The server (services/api,
// services/registry, services/gateway) writes them and the client (services/client, the CLI)
// reads them, so neither side declares a body the other relies on, and the client compiles
// without the server.
//
// It declares types and pure helpers only: nothing here touches the bus or serves HTTP.
// Records of the bus itself (events.Version, events.Trigger, events.Result …) travel in these
// bodies as they are and stay in sluice.dev/events.
package wire
