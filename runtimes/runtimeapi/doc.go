// Package runtimeapi is the server side of the AWS Lambda Runtime API for one function instance.
//
// A Server serves one listener: the one the caller supplies (a sandboxed instance's, opened at
// 127.0.0.1:9001 inside the instance's own network namespace, where nothing else can connect), or
// else a new one on the host's loopback (127.0.0.1:0), for instances run without a sandbox. The
// instance's bootstrap reaches it through AWS_LAMBDA_RUNTIME_API=Addr().
//
// # Wire protocol
//
// All paths are under /2018-06-01/runtime:
//
//	GET  /invocation/next            blocks until Invoke hands an invocation in, then answers 200
//	                                 with the payload as the body and these headers:
//	                                   Lambda-Runtime-Aws-Request-Id        the invocation id (WireID)
//	                                   Lambda-Runtime-Deadline-Ms           deadline, Unix milliseconds
//	                                   Lambda-Runtime-Invoked-Function-Arn  arn:aws:lambda:local:000000000000:function:NAME:VERSION
//	                                   Lambda-Runtime-Trace-Id              X-Ray style trace header
//	                                   Lambda-Runtime-Client-Context        when set
//	                                   Lambda-Runtime-Cognito-Identity      when set
//	                                   Sluice-Event-Attributes              JSON object of the CloudEvent
//	                                                                        attributes (ASCII only)
//	POST /invocation/{id}/response   the handler's result; 202. 400 when id is not the invocation
//	                                 in flight (unknown, already answered, or abandoned after its
//	                                 deadline); 413 beyond MaxResponse bytes, and the invocation then
//	                                 fails with errorType Function.ResponseSizeTooLarge.
//	POST /invocation/{id}/error      the handler failed; body {"errorMessage","errorType","stackTrace"},
//	                                 errorType also in header Lambda-Runtime-Function-Error-Type; 202 or
//	                                 400 as above.
//	POST /init/error                 the bootstrap could not load the handler; 202 before the first
//	                                 invocation is handed in, 403 after.
//
// Errors are JSON {"errorMessage","errorType"} with status 400, 403, 404, 405 or 413, as Lambda does.
//
// # Specialization (a sluice extension)
//
// A pre-started generic process runs its runtime's bootstrap before any function is assigned to
// it, so a cold invocation does not pay for starting the interpreter. Such a process is started
// without _HANDLER in its environment (AWS_LAMBDA_RUNTIME_API and LAMBDA_TASK_ROOT are set, the
// task root is its working directory and still empty), and its bootstrap, once its own imports
// are done, asks:
//
//	GET  /sluice/specialize          blocks until the host assigns a function (Specialize), then
//	                                 answers 200 with a JSON body:
//	                                   {"handler":         "main.handler",
//	                                    "taskRoot":        the code folder as the process sees it,
//	                                                       now filled with the function's code,
//	                                    "env":             {"NAME": "value", ...} the whole
//	                                                       environment to take on, replacing the
//	                                                       process's own (the function's variables,
//	                                                       _HANDLER, LAMBDA_TASK_ROOT,
//	                                                       AWS_LAMBDA_FUNCTION_NAME, ... as a
//	                                                       process started for that function gets),
//	                                    "functionName":    "echo",
//	                                    "functionVersion": 3,
//	                                    "memoryMB":        128}
//
// The bootstrap then replaces its environment with env, changes to taskRoot, puts it first on
// its module search path, loads the handler (failures go to /init/error as at a normal start)
// and enters the usual loop on /invocation/next; Ready is closed on that first /next. The
// invoked function ARN of later invocations names the assigned function. A process started
// with _HANDLER set never asks /sluice/specialize: that is the unchanged Lambda start, which
// custom runtimes and processes started for one function use. Waiting is closed on the first
// /sluice/specialize; the request is answered once, and 500 when the server closes first.
//
// The server speaks the subset of HTTP/1.1 that Runtime API clients use: persistent connections,
// Content-Length or chunked request bodies, Expect: 100-continue, Connection: close. It is written
// for the warm path: one goroutine per connection, no per-request goroutines, timers or header
// maps, responses written straight into the connection's buffer. An oversized body up to 64 MiB
// is read and dropped so the 413 arrives on a usable connection; beyond that the connection closes.
// Header and trailer lines longer than the read buffer (aws-lambda-go's X-Ray error cause header
// of up to 1 MiB) are read within a 2 MiB budget per request. A chunked /response whose trailers
// carry Lambda-Runtime-Function-Error-Type or Lambda-Runtime-Function-Error-Body (base64 of the
// error JSON; a runtime that failed while streaming its response) fails the invocation with that
// error.
// A connection waiting on /next is not watched for the client going away: a runtime that gives up
// on a /next must not open another one (the bootstraps never do; the instance's process ending
// closes everything).
//
// # Concurrency
//
// An instance of a function whose concurrency is N > 1 gets AWS_LAMBDA_MAX_CONCURRENCY=N in its
// environment (as Lambda's multi-concurrency runtimes do) and keeps up to N requests to /next
// pending, each on its own connection (answers on one connection come in order, so a /next
// waits alone on its connection). Every line it prints while serving an invocation starts
// with the tag RS id US (the bytes 0x1e, the invocation's wire id, 0x1f) and is written whole, so
// that the host attributes each line to its own invocation (package instance strips the tag).
// Lines without the tag belong to no invocation in particular.
//
// # Contract
//
// Invoke hands in at most Options.Concurrency invocations at once (ErrBusy beyond), each to a
// pending /next, and returns its result, the context's error when ctx ends first (a late answer
// for that id is then refused with 400), or ErrClosed once Close was called. Ready is closed on
// the first /next; InitError delivers at most one init error. Close unblocks everything, stops
// serving and waits for the serving goroutine. All methods are safe for concurrent use.
package runtimeapi
