// The Sentry peer of test/interop/codecs.test.ts, one process per Sentry major (Sentry patches
// globals: two majors in one process would instrument each other's requests).
//
//   node test/interop/codecs/sentry/peer.cjs <package>     package: @sentry/node or sentry-node10
//
// Reads header values on stdin, one per line. It prints one JSON line with the SDK's version,
// then one per input: what the @sentry/core that this @sentry/node uses makes of the value
// (parseBaggageHeader; objectToBaggageHeader of that; mergeBaggageHeaders of the value with
// Sentry's own members, the call its fetch and http instrumentations make when a request already
// has a `baggage` header), and the `baggage` header(s) a local server received from a real
// `fetch` and a real `http.request` sent inside a Sentry span with the value already set. The
// DSN points at the same local server, which answers Sentry's envelopes with 200 and keeps them.
// CommonJS on purpose: Sentry's http instrumentation patches `require('node:http')`.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, see above */
'use strict';

const { createRequire } = require('node:module');
const path = require('node:path');

const pkg = process.argv[2];
if (pkg !== '@sentry/node' && pkg !== 'sentry-node10') {
  console.error('usage: node peer.cjs @sentry/node|sentry-node10');
  process.exit(2);
}
// Named in full (not require(pkg)) so that dependency checkers see both packages used.
const Sentry = pkg === '@sentry/node' ? require('@sentry/node') : require('sentry-node10');
// The @sentry/core this @sentry/node resolves (npm nests 10.x under sentry-node10).
const core = createRequire(require.resolve(path.join(pkg, 'package.json')))('@sentry/core');

/** A server on 127.0.0.1 that records the `baggage` header lines of each request to /capture. */
function startServer() {
  const http = require('node:http');
  const received = [];
  const server = http.createServer((req, res) => {
    const baggage = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === 'baggage') baggage.push(req.rawHeaders[i + 1]);
    }
    req.resume();
    req.on('end', () => {
      if (req.url.startsWith('/capture')) received.push(baggage);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, received })));
}

function httpGet(url, headers) {
  const http = require('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function readLines() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.split('\n').filter((line, i, all) => i < all.length - 1 || line.length > 0);
}

async function main() {
  const inputs = await readLines();
  const { server, received } = await startServer();
  const { port } = server.address();
  Sentry.init({
    dsn: `http://public@127.0.0.1:${port}/1`,
    tracesSampleRate: 1,
    environment: 'codec-test',
    release: 'codec@1',
  });
  const base = `http://127.0.0.1:${port}/capture`;
  // Sentry's own members, as its instrumentation would merge them: taken from a real span.
  const sentryOwn = await Sentry.startSpan({ name: 'codec-probe' }, () => Sentry.getTraceData().baggage);
  console.log(JSON.stringify({ sdk: Sentry.SDK_VERSION, core: core.SDK_VERSION, sentryOwn }));
  for (const input of inputs) {
    const parsed = core.parseBaggageHeader(input) ?? null;
    const rebuilt = parsed === null ? null : (core.objectToBaggageHeader(parsed) ?? null);
    const merged = core.mergeBaggageHeaders(input, sentryOwn) ?? null;
    const result = { input, parsed: parsed === null ? null : Object.entries(parsed), rebuilt, merged };
    await Sentry.startSpan({ name: 'codec-fetch' }, async () => {
      const before = received.length;
      const res = await fetch(`${base}/fetch`, { headers: { baggage: input } });
      await res.arrayBuffer();
      result.fetch = received.slice(before);
    });
    await Sentry.startSpan({ name: 'codec-http' }, async () => {
      const before = received.length;
      await httpGet(`${base}/http`, { baggage: input });
      result.http = received.slice(before);
    });
    console.log(JSON.stringify(result));
  }
  await Sentry.close(2000);
  server.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
