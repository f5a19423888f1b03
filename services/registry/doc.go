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
// Errors: ErrNotFound (ErrCodeNotFound for code) when something does not exist, ErrInvalid
// wrapping the precise reason for bad names, runtimes, handlers and settings, and archive errors
// (archive.ErrBadArchive) for bad code packages. A Registry is safe for concurrent use and holds
// no state outside the bus.
package registry
