import os
import subprocess
import sys
import time


def echo(event, context):
    return event


def noop(event, context):
    return None


def ctx(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "cloudevent": context.cloudevent,
    }


def fail(event, context):
    raise ValueError("boom")


def sleep(event, context):
    child = subprocess.Popen(["sleep", "300"])
    print("child %d" % child.pid)
    time.sleep(300)


def crash(event, context):
    sys.stderr.write("about to crash\n")
    os._exit(3)


def prints(event, context):
    for n in range(5):
        print("line %d" % n)
    sys.stderr.write("to stderr\n")
    print("x" * 100000)
    context.log("via context")
    return "printed"


def env(event, context):
    return dict(os.environ)


def traces(event, context):
    """What a pre-started process's rehearsal could have left: modules, path entries, finders,
    its folder."""
    tmp = os.environ.get("TMPDIR") or "/tmp"
    mine = ".sluice-rehearsal-%d" % os.getpid()
    return {
        "modules": [m for m in sys.modules if "rehearsal" in m],
        "path": [p for p in sys.path if "rehearsal" in p],
        "finders": [p for p in sys.path_importer_cache if "rehearsal" in str(p)],
        "folders": [f for f in os.listdir(tmp) if f == mine],
        "pid": os.getpid(),
    }
