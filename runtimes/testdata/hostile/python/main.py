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


def listening():
    """The TCP ports listening on an IPv4 loopback address, as /proc/net/tcp shows them."""
    ports = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, port = local.split(":")
            if state == "0A" and addr.endswith("7F"):  # LISTEN on 127.x.x.x
                ports.append(int(port, 16))
    return sorted(set(ports))


def steal(event, context):
    """Asks every other Runtime API it can find for another function's next event."""
    own = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    stolen = {}
    for port in listening():
        if port == own:
            continue
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.settimeout(1)
            s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            stolen[port] = s.recv(65536).decode(errors="replace")
            s.close()
        except OSError as e:
            stolen[port] = "error: " + str(e)
    return {"own": own, "listening": listening(), "stolen": stolen}


def syscalls(event, context):
    """Tries system calls the sandbox's seccomp filter refuses, returning each errno."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    calls = {  # x86_64 numbers
        "ptrace": (101, 0, 0, 0, 0),        # PTRACE_TRACEME
        "keyctl": (250, 0, -3, 0, 0),       # KEYCTL_GET_KEYRING_ID of the session keyring
        "bpf": (321, 0, 0, 0, 0),
        "unshare": (272, 0x40000000, 0, 0, 0),  # CLONE_NEWNET
        "userfaultfd": (323, 0, 0, 0, 0),
        "perf_event_open": (298, 0, 0, -1, -1),
    }
    out = {}
    for name, args in calls.items():
        r = libc.syscall(*[ctypes.c_long(a) for a in args])
        e = ctypes.get_errno()
        out[name] = "ok" if r >= 0 else errno.errorcode.get(e, str(e))
    return out
