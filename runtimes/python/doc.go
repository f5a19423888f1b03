// Package python holds the bootstrap of the python runtime: bootstrap.py, a Python 3 program
// (standard library only) that loads a handler "module.function" from LAMBDA_TASK_ROOT and serves
// its invocations over the AWS Lambda Runtime API at AWS_LAMBDA_RUNTIME_API. The handler is called
// as handler(event, context): event is the JSON-decoded payload (the raw text when it is not JSON,
// {} when empty), context has Lambda's names (aws_request_id, function_name, function_version,
// memory_limit_in_mb, invoked_function_arn, get_remaining_time_in_millis(), log(msg)) plus
// cloudevent, the event's CloudEvent attributes. Exceptions go to /error (errorType = the class
// name); load failures go to /init/error and end the process.
package python
