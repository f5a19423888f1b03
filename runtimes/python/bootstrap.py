"""sluice Python bootstrap: runs a handler behind the AWS Lambda Runtime API.

Standard library only. Start: python3 -u -B bootstrap.py, with AWS_LAMBDA_RUNTIME_API, _HANDLER
(module.function, the module may be dotted) and LAMBDA_TASK_ROOT set. The handler's code is
imported last, just before the invocation loop.

Started without _HANDLER, the process is a pre-started generic one: it asks the Runtime API's
GET /sluice/specialize and waits there until a function is assigned, then takes on the
environment and task root it is given and goes on as above.
"""

import gc
import importlib
import json
import os
import socket
import sys
import time
import traceback

PREFIX = "/2018-06-01/runtime"


class Response:
    """Status and headers (names lower-cased) of a Runtime API answer."""

    __slots__ = ("status", "headers")

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class RuntimeClient:
    """One kept-alive HTTP/1.1 connection to the Runtime API, spoken directly on a socket: the
    protocol needs four requests and Content-Length or chunked bodies, and http.client costs
    tens of milliseconds to import and tens of microseconds per call."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host.strip("[]"), int(port))
        self.host = address
        self.sock = None
        self.rfile = None

    def connect(self):
        sock = socket.create_connection(self.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.rfile = sock, sock.makefile("rb")

    def close(self):
        if self.sock is not None:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rfile = None

    def request(self, method, path, body=b"", headers=None):
        head = "%s %s%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (
            method, PREFIX, path, self.host, len(body))
        if headers:
            for name, value in headers.items():
                head += "%s: %s\r\n" % (name, value)
        return (head + "\r\n").encode("latin-1") + body

    def call(self, method, path, body=b"", headers=None):
        data = self.request(method, path, body, headers)
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.connect()
                self.sock.sendall(data)
                return self.read_response()
            except OSError:
                self.close()
                if attempt:
                    raise

    def answer_then_next(self, answer):
        """Posts an invocation's answer and asks for the next invocation in one write (HTTP/1.1
        pipelining), saving a round trip per invocation; returns the next invocation."""
        path, body, headers = answer
        try:
            if self.sock is None:
                self.connect()
            self.sock.sendall(self.request("POST", path, body, headers) +
                              self.request("GET", "/invocation/next"))
            resp, text = self.read_response()
            if resp.status >= 300:
                sys.stderr.write("[ERROR] runtime api refused the answer: %d %s\n" % (
                    resp.status, text[:200].decode("utf-8", "replace")))
            if self.sock is not None:
                resp, body = self.read_response()
                if resp.status == 200:
                    return resp, body
        except OSError:
            self.close()
        return self.next()

    def read_response(self):
        rfile = self.rfile
        line = rfile.readline(65537)
        if not line:
            raise ConnectionError("runtime api closed the connection")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ConnectionError("runtime api sent a malformed status line: %r" % line[:100])
        status = int(parts[1])
        headers = {}
        while True:
            line = rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self.read_chunked()
        else:
            length = int(headers.get("content-length") or 0)
            body = rfile.read(length) if length else b""
            if len(body) != length:
                raise ConnectionError("runtime api closed the connection mid-body")
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers), body

    def read_chunked(self):
        chunks = []
        while True:
            size = int(self.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def next(self):
        resp, body = self.call("GET", "/invocation/next")
        if resp.status != 200:
            raise RuntimeError("runtime api /next answered %d: %r" % (resp.status, body[:200]))
        return resp, body

    def init_error(self, error):
        self.call("POST", *error_answer("/init/error", error))


def error_answer(path, error):
    """The (path, body, headers) that report an error to the Runtime API."""
    body = json.dumps(error).encode()
    return path, body, {"Content-Type": "application/json",
                                "Lambda-Runtime-Function-Error-Type": error["errorType"]}


class Context:
    """The handler's context object, with the names AWS Lambda uses."""

    def __init__(self, request_id, deadline_ms, arn, attributes, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.cloudevent = attributes
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg):
        msg = str(msg)
        sys.stdout.write(msg if msg.endswith("\n") else msg + "\n")


def error_record(exc, error_type=None, frames=None):
    if frames is None:
        frames = traceback.extract_tb(exc.__traceback__)
    trace = [line.rstrip("\n") for line in traceback.format_list(frames)]
    return {"errorType": error_type or type(exc).__name__, "errorMessage": str(exc), "stackTrace": trace}


def report(record):
    sys.stderr.write("[ERROR] %s: %s\n" % (record["errorType"], record["errorMessage"]))
    for line in record["stackTrace"]:
        sys.stderr.write(line + "\n")


def decode_json(raw, default):
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return None


def load_handler(spec):
    """Imports module.function from the task root; raises LoadError with a Lambda error type."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise LoadError("Runtime.MalformedHandlerName",
                        "bad handler %r: use module.function" % spec)
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise LoadError("Runtime.UserCodeSyntaxError",
                        "syntax error in module %r: %s (%s, line %s)" % (module_name, exc.msg, exc.filename, exc.lineno),
                        exc)
    except ImportError as exc:
        raise LoadError("Runtime.ImportModuleError",
                        "unable to import module %r: %s" % (module_name, exc), exc)
    except Exception as exc:
        raise LoadError("Runtime.ImportModuleError",
                        "unable to import module %r: %s: %s" % (module_name, type(exc).__name__, exc), exc)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise LoadError("Runtime.HandlerNotFound",
                        "handler %r missing on module %r" % (function_name, module_name))
    return handler


class LoadError(Exception):
    def __init__(self, error_type, message, cause=None):
        super().__init__(message)
        self.error_type = error_type
        self.cause = cause


def invoke(handler, resp, body):
    """Runs the handler on one invocation and returns the answer to post: (path, body, headers)."""
    request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    try:
        raw = body.decode("utf-8", "replace")
        if not raw:
            event = {}
        else:
            try:
                event = json.loads(raw)
            except ValueError:
                event = raw
        context = Context(
            request_id,
            int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0),
            resp.getheader("Lambda-Runtime-Invoked-Function-Arn", ""),
            decode_json(resp.getheader("Sluice-Event-Attributes"), {}),
            decode_json(resp.getheader("Lambda-Runtime-Client-Context"), None),
            decode_json(resp.getheader("Lambda-Runtime-Cognito-Identity"), None),
        )
        result = handler(event, context)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this frame
        record = error_record(exc, frames=frames)
        report(record)
        return error_answer("/invocation/%s/error" % request_id, record)
    try:
        out = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        record = {"errorType": "Runtime.MarshalError",
                  "errorMessage": "unable to marshal response: %s" % exc, "stackTrace": []}
        report(record)
        return error_answer("/invocation/%s/error" % request_id, record)
    return "/invocation/%s/response" % request_id, out, {"Content-Type": "application/json"}


REHEARSAL = "_sluice_rehearsal"


def rehearse():
    """Runs once, while the process waits for a function, what taking one on and its first
    invocation run: the spec's decoding, the environment's swap, an import from a folder and an
    invocation of a no-op. A first run in a process costs several times a later one (the
    parser's set-up, the interpreter specialising the code it runs, the import system's finders):
    in a worker, this side of a specialisation took about 0.8 ms without the rehearsal and 0.6 ms
    with it. Nothing of it stays behind: the environment is the same, and the rehearsal's module,
    path entry, finder and folder are gone."""
    # The first compile() of an interpreter initialises its parser (about 0.7 ms).
    compile("def handler(event, context):\n    return event\n", "<sluice-warm-up>", "exec")
    json.loads('{"handler": "main.handler", "taskRoot": "/var/task", "env": {"TZ": "UTC"}}')
    take_environment(dict(os.environ))
    folder = os.path.join(os.environ.get("TMPDIR") or "/tmp", ".sluice-rehearsal-%d" % os.getpid())
    path = os.path.join(folder, REHEARSAL + ".py")
    try:
        os.mkdir(folder, 0o700)
    except OSError:
        return  # no folder of its own to import from: the function's import pays its first run
    try:
        with open(path, "w") as f:
            f.write("def handler(event, context):\n    return event\n")
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        handler = load_handler(REHEARSAL + ".handler")
        invoke(handler, Response(200, {"lambda-runtime-aws-request-id": "rehearsal"}), b'{"rehearsal": true}')
    except (OSError, LoadError):
        pass
    finally:
        sys.modules.pop(REHEARSAL, None)
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path_importer_cache.pop(folder, None)
        for remove, leftover in ((os.remove, path), (os.rmdir, folder)):
            try:
                remove(leftover)
            except OSError:
                pass


def take_environment(env):
    """Makes env the process's environment, which the processes the function starts inherit, and
    its time zone the one env names."""
    os.environ.clear()
    os.environ.update(env)
    time.tzset()


def specialize(client):
    """Waits for a function to be assigned, then takes on its environment and task root;
    returns (handler spec, task root)."""
    rehearse()
    gc.collect()  # the rehearsal's garbage goes now, not in the function's first invocation
    resp, body = client.call("GET", "/sluice/specialize")
    if resp.status != 200:
        raise RuntimeError("runtime api /sluice/specialize answered %d: %r" % (resp.status, body[:200]))
    spec = json.loads(body)
    take_environment(spec.get("env") or {})
    task_root = spec.get("taskRoot") or os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    os.chdir(task_root)
    # PYTHONPATH is read when the interpreter starts; apply the function's own now.
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[0:0] = extra
    return spec.get("handler", ""), task_root


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]

    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    spec = os.environ.get("_HANDLER")
    if spec is None:
        spec, task_root = specialize(client)
    else:
        task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path.insert(0, task_root)
    importlib.invalidate_caches()

    # Loading the user's code is the last step before the loop.
    try:
        handler = load_handler(spec)
    except LoadError as exc:
        cause = exc.cause
        record = {"errorType": exc.error_type, "errorMessage": str(exc),
                  "stackTrace": error_record(cause)["stackTrace"] if cause else []}
        report(record)
        client.init_error(record)
        sys.exit(1)

    resp, body = client.next()
    while True:
        resp, body = client.answer_then_next(invoke(handler, resp, body))


if __name__ == "__main__":
    main()
