package sluice

import "embed"

// Source is this module's own files (go.mod and its packages' sources). sluice's build step
// writes them beside a function's build so that its go.mod can replace sluice.dev/sdk with
// them; functions have no use for it, and a binary that does not refer to it does not hold it.
//
//go:embed go.mod doc.go context.go client.go sluice.go source.go rawio/doc.go rawio/dialer.go rawio/rawio_linux.go rawio/rawio_other.go
var Source embed.FS
