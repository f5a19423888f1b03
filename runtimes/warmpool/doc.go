// Package warmpool keeps pre-started generic runtime processes (instance.Prestart) ready, a
// configured number per runtime, so that a function's first instance on a worker is a
// specialisation (instance.Specialize) rather than an interpreter start.
//
// Run owns the pool: it fills it, the runtimes quick to start first (catalog.StartsSlowly: a
// fresh worker has its Python and Node.js processes before its JVM and Mono ones), refills a
// runtime in the background after Take hands one of its processes out (one process started at a
// time, and a sandbox runs a process started for no function at the least CPU weight, so neither
// crowds the invocations on the host's cores), replaces processes that died while waiting, and retries a runtime whose
// processes fail to start with a growing delay. When Run's ctx ends it closes every waiting
// process, removes the slot folders it made, and returns; Take answers false from then on.
// Processes handed out by Take belong to the caller. All methods are safe for concurrent use.
package warmpool
