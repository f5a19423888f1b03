// Package build is the contract between the deploy-time builds of uploaded code (javac, mcs,
// go build in packages catalog and gobuild) and whatever runs their toolchains.
//
// A build describes each toolchain run as a Command: the tool, its arguments, its whole
// environment (nothing of the node's is added), its working folder, the host folders it reads
// besides the system ones and those it writes, and whether it needs outbound network. A Runner
// runs it and returns its combined output. Paths in a Command are host paths: a sandboxing
// Runner shows the Read folders read-only and the Write folders writable at the same paths, and
// the system folders (/usr, /bin, /lib*, the pieces of /etc toolchains read) read-only, so a
// Command needs no rewriting to run in a sandbox.
//
// Direct runs a Command as a plain child process (its own process group, killed whole when ctx
// ends; output capped at MaxOutput) for hosts without a sandbox, and for tests. It enforces the
// environment and the working folder, not the folders nor the network.
//
// CheckNames refuses uploaded files whose names a toolchain would take as options (a leading
// "-" or "@"), and Scrub replaces the host folders of a build in its output by neutral names,
// so that what goes back to the person deploying carries nothing of the node's.
package build
