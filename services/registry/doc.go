// Package registry owns functions and their code on the bus.
//
// A function is a head record (events.Function, key events.FunctionKey) in the sluice_functions
// key-value bucket plus one immutable events.Version per deploy (key events.VersionKey). Code
// packages live in the sluice_code object store under the hex sha256 of the zip, so the same code
// is stored once. Every deploy makes the next version number: the version key is created with
// create-if-absent and the head moved forward with compare-and-set, so concurrent deploys never
// share a number and a head never points at a version that is not written yet. Deploy also
// creates the function's durable consumer on the invocation stream; Delete removes the head, the
// versions, the consumer and the function's pending invocations.
//
// Aliases live in the head (events.Alias): SetAlias creates or moves one, optionally with a
// weighted second version for canaries; DeleteVersion refuses (ErrInUse, a kind of ErrConflict)
// the latest version and any version an alias points at. Every change of a head is a
// compare-and-set, retried on concurrent writes.
//
// Code reaches the registry as an upload (PutCode), from object storage (FetchCode, through the
// Fetcher given with WithFetcher, size-capped at MaxFetchBytes), or as a one-file edit of the
// latest version's package (EditFile, with Files and File to read what is there).
//
// Errors: ErrNotFound (ErrCodeNotFound for code) when something does not exist, ErrInvalid
// wrapping the precise reason for bad names, runtimes, handlers and settings, and archive errors
// (archive.ErrBadArchive) for bad code packages, ErrNoObjectStorage for code URLs on a node
// without object storage. A Registry is safe for concurrent use and holds
// no state outside the bus.
package registry
