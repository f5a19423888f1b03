// Conformance fixtures of the nodejs runtime (see the package's doc.go).
'use strict';

let count = 0;

exports.echo = async (event) => event;

exports.http = async () => ({ statusCode: 201, headers: { 'X-Fixture': 'yes' }, body: 'created' });

exports.fail = async () => {
  throw new TypeError('boom');
};

exports.crash = async () => {
  process.stderr.write('about to crash\n');
  process.exit(3);
};

exports.hang = () => new Promise(() => setInterval(() => {}, 60000));

exports.flood = async (event) => {
  for (let n = 0; n < event.lines; n++) console.log(`line ${n}`);
  console.log('x'.repeat(event.long));
  return { printed: event.lines };
};

exports.env = async (event) => ({ value: process.env[event.name] || '' });

exports.context = async (event, context) => {
  console.log('logged via context');
  return {
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    remaining: context.getRemainingTimeInMillis(),
  };
};

// A callback-style handler, as older Lambda functions are written.
exports.counter = (event, context, callback) => {
  count += 1;
  callback(null, { count });
};
