// sluice Node.js bootstrap: runs a handler behind the AWS Lambda Runtime API.
//
// Core modules only. Start: node bootstrap.cjs, with AWS_LAMBDA_RUNTIME_API, _HANDLER (file.export,
// the file may sit in a folder: lib/app.handler) and LAMBDA_TASK_ROOT set. Handlers may be async
// (return a promise) or take a callback (event, context, callback). The handler's code is loaded
// last, just before the invocation loop.
//
// Started without _HANDLER, the process is a pre-started generic one: it asks the Runtime API's
// GET /sluice/specialize and waits there until a function is assigned, then takes on the
// environment and task root it is given and goes on as above.
//
// With AWS_LAMBDA_MAX_CONCURRENCY=N above 1 it serves N invocations at once: N loops, each on its
// own connection, each waiting on /next and running the handler. Every line written to stdout or
// stderr within an invocation (console.log, process.stdout.write, from any callback or promise
// the invocation started: AsyncLocalStorage follows them) is buffered per invocation until whole
// and written with the invocation's tag, RS wire-id US, so that the host attributes it to that
// invocation and lines of concurrent invocations never mix.
'use strict';

const net = require('net');
const fs = require('fs');
const path = require('path');
const url = require('url');

const PREFIX = '/2018-06-01/runtime';

// RuntimeClient speaks HTTP/1.1 to the Runtime API on one kept-alive socket, the subset its
// server answers with (a status line, headers, a Content-Length body): the http module costs
// several hundred microseconds per invocation. Requests may be pipelined; answers are matched to
// them in order.
class RuntimeClient {
  constructor(address) {
    const sep = address.lastIndexOf(':');
    this.host = address.slice(0, sep).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(sep + 1));
    this.hostHeader = address;
    this.sock = null;
    this.buf = null;
    this.waiters = []; // {resolve, reject} per request written and not answered, in order
  }

  connect() {
    const sock = net.connect({ host: this.host, port: this.port });
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      this.parse();
    });
    const fail = (err) => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.buf = null;
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(err || new Error('runtime api closed the connection'));
    };
    sock.on('error', fail);
    sock.on('close', () => fail(null));
    this.sock = sock;
  }

  // parse resolves every complete answer in the buffer.
  parse() {
    while (this.buf && this.waiters.length > 0) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.toString('latin1', 0, end).split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] || 0);
      if (this.buf.length < end + 4 + length) return;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      const rest = this.buf.subarray(end + 4 + length);
      this.buf = rest.length > 0 ? Buffer.from(rest) : null;
      this.waiters.shift().resolve({ status, headers, body: Buffer.from(body) });
      if ((headers.connection || '').toLowerCase() === 'close' && this.sock) {
        const sock = this.sock;
        this.sock = null;
        sock.destroy();
      }
    }
  }

  encode(method, p, body, headers) {
    const payload = body == null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    let head = `${method} ${PREFIX}${p} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nContent-Length: ${payload.length}\r\n`;
    for (const [name, value] of Object.entries(headers || {})) {
      head += `${name}: ${String(value).replace(/[\r\n\0]/g, ' ')}\r\n`;
    }
    return [Buffer.from(head + '\r\n', 'latin1'), payload];
  }

  // send writes requests in one write and returns a promise of each answer.
  send(...requests) {
    if (!this.sock) this.connect();
    const parts = [];
    const answers = requests.map((r) => {
      parts.push(...this.encode(...r));
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    });
    this.sock.write(Buffer.concat(parts));
    return answers;
  }

  call(method, p, body, headers) {
    return this.send([method, p, body, headers])[0];
  }

  // answerThenNext posts an invocation's answer and asks for the next invocation in one write
  // (HTTP/1.1 pipelining), saving a round trip per invocation.
  async answerThenNext(answer) {
    const [posted, next] = this.send(['POST', ...answer], ['GET', '/invocation/next']);
    const res = await posted;
    if (res.status >= 300) {
      process.stderr.write(`[ERROR] runtime api refused the answer: ${res.status} ${res.body.toString('utf8', 0, 200)}\n`);
    }
    return next;
  }
}

const client = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API || '');

function call(method, p, body, headers) {
  return client.call(method, p, body, headers);
}

function errorAnswer(p, record) {
  return [p, JSON.stringify(record), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': record.errorType,
  }];
}

function postError(p, record) {
  return call('POST', ...errorAnswer(p, record));
}

function errorRecord(err, type) {
  if (err instanceof Error) {
    return {
      errorType: type || err.name || (err.constructor && err.constructor.name) || 'Error',
      errorMessage: err.message,
      stackTrace: String(err.stack || '').split('\n').slice(1).map((l) => l.trim()).filter(Boolean),
    };
  }
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch (_) {
    message = String(err);
  }
  return { errorType: type || 'Error', errorMessage: String(message), stackTrace: [] };
}

function report(record) {
  process.stderr.write(`[ERROR] ${record.errorType}: ${record.errorMessage}\n` +
    record.stackTrace.map((l) => '    ' + l + '\n').join(''));
}

function parseJSON(raw, fallback) {
  if (!raw) return fallback;
  try {
    return JSON.parse(raw);
  } catch (_) {
    return fallback;
  }
}

class LoadError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.type = type;
    this.cause = cause;
  }
}

async function loadHandler(spec, root) {
  const slash = spec.lastIndexOf('/');
  const dot = spec.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === spec.length - 1) {
    throw new LoadError('Runtime.MalformedHandlerName', `bad handler "${spec}": use file.export`);
  }
  const file = path.resolve(root, spec.slice(0, dot));
  const names = spec.slice(dot + 1).split('.');
  let mod;
  try {
    const found = ['.js', '.mjs', '.cjs'].map((ext) => file + ext).find((f) => fs.existsSync(f));
    if (!found) {
      throw new LoadError('Runtime.ImportModuleError', `cannot find module "${spec.slice(0, dot)}" (.js, .mjs or .cjs) in the task root`);
    }
    if (found.endsWith('.mjs')) {
      mod = await import(url.pathToFileURL(found).href);
    } else {
      try {
        mod = require(found);
      } catch (err) {
        if (err && err.code !== 'ERR_REQUIRE_ESM') throw err;
        mod = await import(url.pathToFileURL(found).href);
      }
    }
  } catch (err) {
    if (err instanceof LoadError) throw err;
    if (err instanceof SyntaxError) {
      throw new LoadError('Runtime.UserCodeSyntaxError', `syntax error in "${spec.slice(0, dot)}": ${err.message}`, err);
    }
    throw new LoadError('Runtime.ImportModuleError', `unable to load "${spec.slice(0, dot)}": ${err && err.message}`, err);
  }
  let fn = mod;
  for (const n of names) fn = fn == null ? undefined : fn[n];
  if (typeof fn !== 'function' && mod && mod.default) {
    fn = mod.default;
    for (const n of names) fn = fn == null ? undefined : fn[n];
  }
  if (typeof fn !== 'function') {
    throw new LoadError('Runtime.HandlerNotFound', `handler "${names.join('.')}" is not exported by "${spec.slice(0, dot)}"`);
  }
  return fn;
}

// flushed resolves once everything the function wrote to stdout and stderr has reached the
// pipes, so the worker sees its lines before its answer. Writes to a full pipe are queued.
function flushed() {
  const waits = [process.stdout, process.stderr]
    .filter((s) => s.writableLength > 0)
    .map((s) => new Promise((resolve) => s.write('', resolve)));
  return waits.length ? Promise.all(waits) : null;
}

const inflight = new Set(); // ids of the invocations being handled and not yet answered

// lines, when the instance serves invocations concurrently, is the AsyncLocalStorage whose store
// is the current invocation's {tag, pending: [stdout, stderr]}; null otherwise.
let lines = null;

// tagLines makes every write to stdout and stderr made within an invocation go out as whole
// lines, each starting with the invocation's tag; a partial line waits in the invocation's store
// for the rest (or for endLines).
function tagLines() {
  const { AsyncLocalStorage } = require('async_hooks');
  lines = new AsyncLocalStorage();
  [process.stdout, process.stderr].forEach((stream, n) => {
    const write = stream.write.bind(stream);
    stream.write = (chunk, encoding, cb) => {
      const inv = lines.getStore();
      if (!inv) return write(chunk, encoding, cb);
      if (typeof encoding === 'function') {
        cb = encoding;
        encoding = undefined;
      }
      const piece = typeof chunk === 'string'
        ? (encoding && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding).toString('utf8') : chunk)
        : Buffer.from(chunk).toString('utf8');
      const text = inv.pending[n] + piece;
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        inv.pending[n] = text;
        if (cb) process.nextTick(cb);
        return true;
      }
      inv.pending[n] = text.slice(cut + 1);
      return write(inv.tag + text.slice(0, cut).split('\n').join('\n' + inv.tag) + '\n', cb);
    };
  });
}

// endLines writes out the partial lines an invocation left.
function endLines(inv) {
  [process.stdout, process.stderr].forEach((stream, n) => {
    if (inv.pending[n]) {
      const rest = inv.pending[n];
      inv.pending[n] = '';
      lines.exit(() => stream.write(inv.tag + rest + '\n'));
    }
  });
}

function makeContext(id, headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const env = process.env;
  return {
    awsRequestId: id,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'] || '',
    functionName: env.AWS_LAMBDA_FUNCTION_NAME || '',
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || '',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || '',
    cloudevent: parseJSON(headers['sluice-event-attributes'], {}),
    clientContext: parseJSON(headers['lambda-runtime-client-context'], undefined),
    identity: parseJSON(headers['lambda-runtime-cognito-identity'], undefined),
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(handler, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (err, value) => (err != null ? reject(err) : resolve(value));
    context.done = callback;
    context.succeed = (value) => resolve(value);
    context.fail = (err) => reject(err == null ? new Error('failed') : err);
    const r = handler(event, context, callback);
    if (r && typeof r.then === 'function') r.then(resolve, reject);
    else if (handler.length < 3) resolve(r);
  });
}

// invoke runs the handler on one invocation and returns the answer to post: [path, body, headers].
function invoke(handler, res) {
  if (!lines) return invokeOne(handler, res, null);
  const inv = { tag: '\x1e' + res.headers['lambda-runtime-aws-request-id'] + '\x1f', pending: ['', ''] };
  return lines.run(inv, () => invokeOne(handler, res, inv));
}

async function invokeOne(handler, res, inv) {
  const id = res.headers['lambda-runtime-aws-request-id'];
  inflight.add(id);
  let out;
  try {
    const raw = res.body.toString('utf8');
    let event = {};
    if (raw) {
      try {
        event = JSON.parse(raw);
      } catch (_) {
        event = raw;
      }
    }
    const result = await run(handler, event, makeContext(id, res.headers));
    out = JSON.stringify(result === undefined ? null : result);
  } catch (err) {
    const record = errorRecord(err);
    report(record);
    inflight.delete(id);
    if (inv) endLines(inv);
    await flushed();
    return errorAnswer(`/invocation/${id}/error`, record);
  }
  inflight.delete(id);
  if (inv) endLines(inv);
  const pending = flushed();
  if (pending) await pending;
  return [`/invocation/${id}/response`, out, { 'Content-Type': 'application/json' }];
}

// An exception nobody catches ends the instance, after failing the invocations in flight; one
// that comes while it does so is only reported.
let dying = false;
async function die(err, type) {
  if (dying) {
    report(errorRecord(err, type));
    return;
  }
  dying = true;
  const record = errorRecord(err, type);
  report(record);
  const ids = [...inflight];
  inflight.clear();
  try {
    await flushed();
    if (ids.length === 1 && !lines) {
      await postError(`/invocation/${ids[0]}/error`, record);
    } else if (ids.length > 0) {
      // The loops' connections wait on /next: answer on a connection of its own.
      const rc = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API || '');
      await Promise.all(ids.map((id) => rc.call('POST', ...errorAnswer(`/invocation/${id}/error`, record))));
    }
  } finally {
    process.exit(129);
  }
}

// rehearse runs once, while the process waits for a function, what taking one on and its first
// invocation run: the spec's decoding, the environment's swap, loading a module from a folder of
// its own and invoking it. A first run in a process costs several times a later one (the
// module loader's resolution and caches, V8 compiling and optimising the code it runs), which a
// cold start would otherwise pay. Nothing of it stays behind: the environment is the same, and
// the rehearsal's module and folder are gone.
async function rehearse() {
  JSON.parse('{"handler":"index.handler","taskRoot":"/var/task","env":{"TZ":"UTC"}}');
  takeEnvironment({ ...process.env });
  const folder = path.join(process.env.TMPDIR || '/tmp', `.sluice-rehearsal-${process.pid}`);
  try {
    fs.mkdirSync(folder, 0o700);
  } catch (_) {
    return; // no folder of its own to load from: the function's load pays its first run
  }
  const file = path.join(folder, 'rehearsal.js');
  try {
    fs.writeFileSync(file, 'exports.handler = async (event) => event;\n');
    const handler = await loadHandler('rehearsal.handler', folder);
    await invoke(handler, { headers: { 'lambda-runtime-aws-request-id': 'rehearsal' }, body: Buffer.from('{"rehearsal":true}') });
  } catch (_) {
    // a rehearsal that fails only loses its saving
  } finally {
    delete require.cache[file];
    module.children = module.children.filter((m) => m.id !== file);
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

// takeEnvironment makes env the process's environment, which the processes the function starts
// inherit; setting TZ resets the time zone cache.
function takeEnvironment(env) {
  for (const k of Object.keys(process.env)) {
    if (!Object.prototype.hasOwnProperty.call(env, k)) delete process.env[k];
  }
  Object.assign(process.env, env);
}

// specialize waits for a function to be assigned, then takes on its environment and task root.
async function specialize() {
  await rehearse();
  const res = await call('GET', '/sluice/specialize');
  if (res.status !== 200) throw new Error(`runtime api /sluice/specialize answered ${res.status}: ${res.body}`);
  const spec = JSON.parse(res.body.toString('utf8'));
  takeEnvironment(spec.env || {});
  const root = spec.taskRoot || process.env.LAMBDA_TASK_ROOT || process.cwd();
  process.chdir(root);
  return { spec: spec.handler || '', root };
}

async function main() {
  process.on('uncaughtException', (err) => die(err, undefined));
  process.on('unhandledRejection', (err) => die(err, 'Runtime.UnhandledPromiseRejection'));

  let spec = process.env._HANDLER;
  let root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  if (spec === undefined) ({ spec, root } = await specialize());
  // Loading the user's code is the last step before the loop.
  let handler;
  try {
    handler = await loadHandler(spec, root);
  } catch (err) {
    const record = errorRecord(err.cause || err, err.type || 'Runtime.ImportModuleError');
    record.errorMessage = err.message;
    report(record);
    await postError('/init/error', record).catch(() => {});
    process.exit(1);
  }
  const n = Math.max(1, Math.floor(Number(process.env.AWS_LAMBDA_MAX_CONCURRENCY) || 1));
  if (n === 1) return serve(handler, client);
  tagLines();
  const loops = [serve(handler, client)];
  for (let k = 1; k < n; k++) loops.push(serve(handler, new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API || '')));
  return Promise.all(loops);
}

// serve is one invocation loop on its own connection: ask for an invocation, run it, post its
// answer together with the next ask.
async function serve(handler, rc) {
  let res = await rc.call('GET', '/invocation/next');
  for (;;) {
    if (res.status !== 200) throw new Error(`runtime api /next answered ${res.status}: ${res.body}`);
    res = await rc.answerThenNext(await invoke(handler, res));
  }
}

main().catch((err) => {
  report(errorRecord(err, 'Runtime.Bootstrap'));
  process.exit(1);
});
