// Package gobuild turns a go function's package into the executable its instances run: a
// linux binary named bootstrap.
//
// Build looks at the unpacked package:
//
//   - a go.mod (or .go files at its root, given a go.mod naming module "function") is built with
//     `go build -trimpath -ldflags=-s -w -o bootstrap .` for GOOS=linux, the worker's GOARCH,
//     CGO_ENABLED=0. Every go command runs through Options.Runner (build.Direct when nil; a
//     sandbox on a node that has one) as a build.Command listing what it reads (the SDK copy, a
//     toolchain outside /usr) and writes (the package, the output folder, the caches of its
//     key, a temporary folder), with `go build` alone allowed the network (modules from the
//     proxy). Its environment is made only of what the build needs: PATH (the toolchain's folder
//     and /usr/bin:/bin), LANG=C.UTF-8, HOME, TMPDIR, GOCACHE, GOMODCACHE and GOPATH, GOFLAGS=-mod=mod
//     (a missing go.sum line is filled in), GOTOOLCHAIN=local, GOWORK=off, GOENV=off,
//     GOTELEMETRY=off, and, from the node's environment, GOPROXY, GOSUMDB, GONOSUMDB, GOPRIVATE,
//     GONOPROXY, GOINSECURE, the HTTP(S) proxy variables and SSL_CERT_FILE/SSL_CERT_DIR.
//   - otherwise an executable file named bootstrap is taken as it is (a binary built
//     elsewhere); anything else is ErrNothingToRun.
//
// Caches are kept per Options.CacheKey (the function's name): its builds reuse each other's
// compiled packages and downloaded modules in CacheDir/fn/<key>-<hash of the key>/ (go-build,
// gopath, home), and see no other key's, so a hostile build cannot poison another function's
// build through a shared cache. A key's first build starts from the node's seed (seed.go): the
// standard library packages and the SDK compiled once per toolchain and SDK from the node's
// own code into CacheDir/seed/, hard-linked into the new cache and left read-only and root's, so
// builds (another uid) can add to their own cache but change nothing of the seed. It still
// downloads its own modules.
//
// sluice's own Go SDK (module sluice.dev/sdk) needs no module host: before building, Build
// writes the SDK's files (Options.SDK) into CacheDir/sdk/<hash of the files>/ once, shared by
// every key and only read by builds, and adds `replace sluice.dev/sdk => that folder` to the
// function's go.mod, which otherwise is left as the function wrote it. A function requiring any
// version of sluice.dev/sdk builds against the SDK shipped with the worker.
//
// A package holding a file or folder whose name starts with "-" or "@" is refused (ErrBuild
// wrapping build.ErrOptionName, naming it). Output is the go command's own output (compiler
// errors name the function's files relative to its root, "./main.go:7:2: ...", and the node's
// folders appear as $GOCACHE, $GOMODCACHE, $SDK, $OUT...) followed by one summary line. A build
// that fails returns ErrBuild with that output; a source package on a node without go returns
// ErrNoToolchain.
package gobuild
