// Package directory keeps a live, in-memory view of the deployed functions by watching the
// sluice_functions bucket, so that the invocation path resolves a function and its version
// without a round trip to the bus. Versions are immutable, so a cached version is never stale;
// a head (the newest version, aliases) follows the bucket within milliseconds, and a name the view
// has not seen yet is looked up in the bucket directly.
//
// Resolve turns a qualifier into the version an invocation runs. An alias with a weighted second
// version (a canary) is drawn per call, so that over many calls the second version gets its
// weight's share.
//
// A Directory is safe for concurrent use. Close stops its watcher.
package directory
