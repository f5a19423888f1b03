// Package gobuild turns a go function's package into the executable its instances run: a
// linux binary named bootstrap.
//
// Build looks at the unpacked package:
//
//   - a go.mod (or .go files at its root, given a go.mod naming module "function") is built with
//     `go build -trimpath -ldflags=-s -w -o bootstrap .` for GOOS=linux, the worker's GOARCH,
//     CGO_ENABLED=0, in an environment made only of what the build needs: PATH (the toolchain's
//     folder and /usr/bin:/bin), HOME, GOCACHE, GOMODCACHE and GOPATH inside Options.CacheDir (so
//     builds after the first reuse compiled packages and downloaded modules), GOFLAGS=-mod=mod
//     (a missing go.sum line is filled in), GOTOOLCHAIN=local, GOWORK=off, and, from the node's
//     environment, GOPROXY, GOSUMDB, GONOSUMDB, GOPRIVATE, GONOPROXY, GOINSECURE and the HTTP(S)
//     proxy variables. The build runs in its own process group, killed when ctx ends.
//   - otherwise an executable file named bootstrap is taken as it is (a binary built
//     elsewhere); anything else is ErrNothingToRun.
//
// sluice's own Go SDK (module sluice.dev/sdk) needs no module host: before building, Build
// writes the SDK's files (Options.SDK) into CacheDir/sdk/<hash of the files>/ once, and adds
// `replace sluice.dev/sdk => that folder` to the function's go.mod, which otherwise is left as
// the function wrote it. A function requiring any version of sluice.dev/sdk builds against the
// SDK shipped with the worker.
//
// Output is the go command's own output (compiler errors name the function's files relative to
// its root, "./main.go:7:2: ...") followed by one summary line. A build that fails returns
// ErrBuild with that output; a source package on a node without go returns ErrNoToolchain.
package gobuild
