// Package instance runs one function instance: an OS process running a runtime's bootstrap, fed
// invocations over its own Runtime API server (package runtimeapi).
//
// Start launches the process in its own process group, with an environment built only from the
// function's Env and the runtime's variables (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, a minimal PATH, LANG=C.UTF-8, HOME=/tmp,
// TZ=UTC unless the function sets it, GOMAXPROCS=the CPU share of its memory, 1769 MB a CPU, unless
// the function sets it), never the worker's own, and the code folder as its
// working directory. It returns once the bootstrap asks for its first invocation and records the
// init duration.
//
// Invoke runs up to Config.Concurrency invocations at once (1 by default; above 1 only for
// runtimes the catalog reports Concurrent, whose process then gets AWS_LAMBDA_MAX_CONCURRENCY).
// The process's stdout and stderr are read line by line (lines longer than MaxLine arrive split)
// and handed to Config.Logs tagged with their invocation: with a concurrency of 1, the invocation
// in flight; above 1, the invocation named by the tag the runtime puts on each line (package
// runtimeapi), untagged lines belonging to none. Everything written before the handler answered
// is delivered before Invoke returns. A handler error leaves the instance usable; a timeout kills
// the whole process group (ErrTimeout), a process that dies on its own yields ErrCrashed, both
// with the exit status and the last stderr lines in a *Failure; the other invocations of a
// concurrent instance then fail with ErrCrashed. After either, the instance is finished: Done is
// closed.
//
// Close sends SIGTERM to the group, SIGKILL after a short grace, and returns when the process is
// reaped, its output drained and every goroutine of the instance has finished.
//
// Prestart launches a generic process of a runtime before any function is assigned to it: the
// interpreter starts and the bootstrap does its own imports, then waits on the Runtime API's
// /sluice/specialize extension. Specialize assigns a function: it fills the instance's empty
// slot folder with the function's code (hard links from the code cache, copies across file
// systems), applies the memory setting (Jail.Limit) and hands the bootstrap the handler and the
// same environment Start would have given the process; it returns once the handler is loaded,
// and InitDuration is the time that took. Variables an interpreter reads only when it starts
// (catalog.Specializable) cannot be applied that way: such functions need Start.
//
// Config.Sandbox is the seam for confinement (namespaces, cgroups): it may rewrite the command
// before it starts and is released after the process ends. Without it the process runs directly.
package instance
