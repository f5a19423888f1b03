"""Hostile handlers: each tries something a sandbox must stop and returns what happened."""

import errno
import os
import signal
import socket
import subprocess
import time


def outcome(fn):
    try:
        return {"ok": True, "value": fn()}
    except OSError as e:
        return {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno)), "message": str(e)}


def echo(event, context):
    return event


def fdlink(fd):
    try:
        return os.readlink("/proc/self/fd/" + fd)
    except OSError as e:
        return str(e)


def ids(event, context):
    return {
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "pid": os.getpid(), "hostname": socket.gethostname(), "cwd": os.getcwd(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"), "task": sorted(os.listdir("/var/task")),
        "root": sorted(os.listdir("/")), "etc": sorted(os.listdir("/etc")),
        "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "fds": {f: fdlink(f) for f in os.listdir("/proc/self/fd")},
        "pid1": open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode(),
    }


def read(event, context):
    def go():
        with open(event["path"], "rb") as f:
            return f.read().decode(errors="replace")
    return outcome(go)


def write(event, context):
    def go():
        with open(event["path"], "w") as f:
            f.write("written by a function\n")
        return event["path"]
    return outcome(go)


def kill(event, context):
    return outcome(lambda: os.kill(event["pid"], signal.SIGKILL))


def connect(event, context):
    def go():
        s = socket.create_connection((event["host"], event["port"]), timeout=2)
        s.close()
        return "connected"
    return outcome(go)


def alloc(event, context):
    # bytearray(n) * 1 would stay lazily zeroed: fill every page.
    chunks = []
    for _ in range(event["mb"]):
        chunks.append(b"\x01" * (1 << 20))
    return len(chunks)


def forkbomb(event, context):
    subprocess.Popen(["/bin/sh", "-c", "b() { b | b & }; b"])
    time.sleep(event.get("seconds", 1))
    return len([p for p in os.listdir("/proc") if p.isdigit()])


def filltmp(event, context):
    chunk = b"\x02" * (1 << 20)
    with open("/tmp/fill", "wb") as f:
        while True:  # ends with OSError(ENOSPC): the function's error
            f.write(chunk)
            f.flush()


def spin(event, context):
    if os.fork() == 0:
        while True:
            pass
    while True:
        pass
