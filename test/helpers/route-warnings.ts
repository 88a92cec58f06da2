// A server with this library's init, the stock instrumentation-http and Express apps whose
// session middleware a route cannot apply as configured: (A) an app-level sessionMiddleware()
// in front of a router-level one with another trust; (B) a route-level middleware stricter than
// the global extract. Makes loopback requests phase by phase and prints {"warnings": {...}}: the
// diag warnings each phase produced. Run by test/http/route-warnings.test.ts.
import { createRequire } from 'node:module';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { AlwaysOnSampler, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import * as lib from '../../src/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';

const require = createRequire(import.meta.url);
const handle = lib.init({ sampler: new AlwaysOnSampler(), exporters: [new InMemorySpanExporter()] });
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
new HttpInstrumentation();
const warned: string[] = [];
const record = (...args: unknown[]) => void warned.push(args.map(String).join(' '));
diag.setLogger({ error: record, warn: record, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);

const http = require('node:http') as typeof import('node:http');
const express = require('express') as typeof import('express');
const ok = (_req: unknown, res: { send(body: string): void }) => res.send('ok');

const appA = express();
appA.use(sessionMiddleware());
const same = express.Router();
same.use(sessionMiddleware());
same.get('/x', ok);
const stricter = express.Router();
stricter.use(sessionMiddleware({ trust: 'link' }));
stricter.get('/x', ok);
appA.use('/same', same);
appA.use('/r', stricter);
appA.get('/plain', ok);

const appB = express();
appB.use('/strict', sessionMiddleware({ trust: 'link' }));
appB.get('/strict/x', ok);
appB.use(sessionMiddleware());
appB.get('/lenient', ok);

async function listen(app: import('express').Express): Promise<{ url: string; close(): void }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

const traceparent = '00-5e55105e55105e55105e55105e551050-2222222222222222-01';
async function get(url: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    http.get(url, { headers: { traceparent } }, (res) => res.resume().on('end', resolve)).on('error', reject),
  );
}

const a = await listen(appA);
const b = await listen(appB);
const warnings: Record<string, string[]> = {};
for (const [phase, urls] of [
  ['same trust', [`${a.url}/plain`, `${a.url}/same/x`]],
  ['router stricter than app', [`${a.url}/r/x`, `${a.url}/r/x`]],
  ['lenient route', [`${b.url}/lenient`]],
  ['route stricter than global', [`${b.url}/strict/x`, `${b.url}/strict/x`]],
] as const) {
  warned.length = 0;
  for (const url of urls) await get(url);
  warnings[phase] = [...warned];
}
a.close();
b.close();
await handle.shutdown();
console.log(JSON.stringify({ warnings }));
