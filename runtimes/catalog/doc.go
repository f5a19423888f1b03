// Package catalog knows the runtimes a worker can run: their ids, handler forms, interpreters
// and bootstraps.
//
// New resolves every runtime's interpreter once (an explicit path from Options, else a preferred
// system path such as Debian's /usr/bin/python3, else a PATH search; a version-manager shim found
// on PATH is asked once for the real interpreter and never executed again) and writes each
// embedded bootstrap once into a bootstrap folder. Nothing is looked up again afterwards: a
// Catalog is immutable and safe for concurrent use.
//
// Validate checks a runtime id and handler form (ErrUnknownRuntime, ErrBadHandler); Check says
// whether the worker has the toolchain (ErrMissingToolchain, naming the package to install);
// Command gives the command line that starts an instance's bootstrap; InlineFile names the file
// that one-file inline code is stored as; Concurrent says whether a runtime's bootstrap serves
// several invocations of one instance at once (a function's concurrency above 1; nodejs), and
// ConcurrentRuntimes lists those that do.
//
// Runtimes whose code brings its own executable (go, custom; exec.go) have no interpreter nor
// bootstrap: Command names the package's file (InCode, joined to the code folder by the
// instance), Check never fails for them, and go's toolchain is needed only by Build, which
// compiles sources with package gobuild or takes a prebuilt bootstrap as it is.
//
// Build compiles uploaded code at deploy (javac, mcs, go build). Every toolchain run over that
// code goes through Options.Runner (a sandbox on a node that has one, build.Direct otherwise)
// as a build.Command with an environment of its own and the folders it reads and writes; Go's
// caches are kept per function. Only the compilation of the runtimes' own bootstraps at New
// runs directly.
//
// Adding a runtime is one entry in runtimes.go and its bootstrap package.
package catalog
