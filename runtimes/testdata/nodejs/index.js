'use strict';
const { spawn } = require('child_process');

exports.echo = async (event) => event;

exports.noop = async () => null;

exports.ctx = async (event, context) => ({
  aws_request_id: context.awsRequestId,
  function_name: context.functionName,
  function_version: context.functionVersion,
  memory_limit_in_mb: context.memoryLimitInMB,
  invoked_function_arn: context.invokedFunctionArn,
  remaining: context.getRemainingTimeInMillis(),
  cloudevent: context.cloudevent,
});

exports.fail = async () => {
  throw new TypeError('boom');
};

exports.sleep = async () => {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  console.log(`child ${child.pid}`);
  await new Promise(() => {});
};

exports.crash = async () => {
  process.stderr.write('about to crash\n');
  process.exit(3);
};

exports.prints = async (event, context) => {
  for (let n = 0; n < 5; n++) console.log(`line ${n}`);
  console.error('to stderr');
  console.log('x'.repeat(100000));
  console.log('via context');
  return 'printed';
};

exports.env = async () => ({ ...process.env });

// Callback style.
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: 'callback', event }), 1);
};

exports.callbackError = (event, context, callback) => callback(new RangeError('bad range'));

// An exception thrown outside the handler's promise ends the instance after failing the
// invocation.
exports.uncaught = async () => {
  setTimeout(() => {
    throw new Error('stray');
  }, 1);
  await new Promise(() => {});
};

// Concurrent invocations: each waits until event.together invocations of the instance have
// arrived (so it only returns when they overlap), printing numbered lines between awaits, some
// in pieces and from timers, each tagged with its own event.tag.
let arrived = 0;
exports.chatty = async (event) => {
  arrived++;
  for (let n = 0; n < event.lines; n++) {
    if (n % 3 === 0) {
      process.stdout.write(`${event.tag} `);
      await new Promise((resolve) => setTimeout(resolve, 1));
      process.stdout.write(`${n}\n`);
    } else if (n % 3 === 1) {
      await new Promise((resolve) => setTimeout(() => { console.log(`${event.tag} ${n}`); resolve(); }, 1));
    } else {
      console.error(`${event.tag} ${n}`);
    }
    while (n === 0 && arrived < event.together) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  process.stdout.write(`${event.tag} last without a newline`);
  return event.tag;
};

// What a pre-started process's rehearsal could have left: cached modules, its folder (Node.js
// has no path entries or finders of Python's kind).
exports.traces = async () => {
  const fs = require('fs');
  const mine = `.sluice-rehearsal-${process.pid}`;
  return {
    modules: Object.keys(require.cache).filter((k) => k.includes('rehearsal')),
    folders: fs.readdirSync(process.env.TMPDIR || '/tmp').filter((f) => f === mine),
    pid: process.pid,
  };
};
