// Package php holds the bootstrap of the php runtime: bootstrap.php, a PHP 8 program (core and
// the json extension only) run by php-cli, that loads a handler "file.function" (file.php in
// LAMBDA_TASK_ROOT, possibly in a folder: lib/app.handler) and serves its invocations over the
// AWS Lambda Runtime API at AWS_LAMBDA_RUNTIME_API.
//
// The handler is called as handler($event, $context). $event is the JSON payload decoded to
// associative arrays (an empty JSON object becomes an empty ArrayObject, so that it encodes
// back as {}), the raw text when the payload is not JSON, [] when it is empty. $context is a
// Sluice\Runtime\Context with Lambda's getters: getAwsRequestId(), getFunctionName(),
// getFunctionVersion(), getMemoryLimitInMB(), getInvokedFunctionArn(), getRemainingTimeInMillis(),
// getDeadlineMs(), getTraceId(), getCloudEvent() (the event's CloudEvent attributes) and
// log($message). The result is encoded to JSON. An uncaught Throwable goes to /error with
// errorType = its class and errorMessage = its message; a handler that cannot be loaded (no file,
// a parse error, no such function) goes to /init/error and ends the process. Whatever the
// function echoes or writes to STDOUT/STDERR is captured line by line.
package php
