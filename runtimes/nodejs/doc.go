// Package nodejs holds the bootstrap of the nodejs runtime: bootstrap.js, a Node.js program (core
// modules only, CommonJS, written out with a .cjs name) that loads a handler "file.export" from
// LAMBDA_TASK_ROOT (.js or .cjs through require, .mjs or ES modules through import) and serves its
// invocations over the AWS Lambda Runtime API at AWS_LAMBDA_RUNTIME_API. Async handlers and
// callback handlers (event, context, callback) both work; context has awsRequestId,
// functionName, functionVersion, memoryLimitInMB, invokedFunctionArn, getRemainingTimeInMillis()
// and cloudevent. Thrown errors and rejected promises go to /error; load failures go to
// /init/error and end the process; an uncaught exception fails the invocation in flight and ends
// the process.
// With AWS_LAMBDA_MAX_CONCURRENCY=N it serves N invocations at once, one /next per loop, and
// tags every line an invocation prints with its id (AsyncLocalStorage follows the invocation
// through awaits and timers), as package runtimeapi describes.
package nodejs
