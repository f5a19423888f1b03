"""Conformance fixtures of the python runtime (see the package's doc.go)."""

import os
import sys
import time

count = 0


def echo(event, context):
    return event


def http(event, context):
    return {"statusCode": 201, "headers": {"X-Fixture": "yes"}, "body": "created"}


def fail(event, context):
    raise ValueError("boom")


def crash(event, context):
    sys.stderr.write("about to crash\n")
    sys.stderr.flush()
    os._exit(3)


def hang(event, context):
    while True:
        time.sleep(60)


def flood(event, context):
    for n in range(event["lines"]):
        print("line %d" % n)
    print("x" * event["long"])
    return {"printed": event["lines"]}


def env(event, context):
    return {"value": os.environ.get(event["name"], "")}


def context(event, context):
    context.log("logged via context")
    return {
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
    }


def counter(event, context):
    global count
    count += 1
    return {"count": count}
