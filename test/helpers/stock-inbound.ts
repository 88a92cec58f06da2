// A server with this library's init, the stock instrumentation-http (registered before or after
// init) and an Express app with sessionMiddleware. Listens on 0.0.0.0; prints {"listening": port}.
// GET /done answers with one record per earlier request: its SERVER spans, their trace ids and
// links. Run by test/http/stock-inbound.test.ts, whose public callers come from a netns.
import { createRequire } from 'node:module';
import { AlwaysOnSampler, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import * as lib from '../../src/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';

const require = createRequire(import.meta.url);
const [order = 'after'] = process.argv.slice(2);
const exporter = new InMemorySpanExporter();
const options = {
  sampler: new AlwaysOnSampler(),
  exporters: [exporter],
  publicPathPrefixes: ['/public'],
};
function stock(): void {
  // Enabled on construction, with the global tracer provider (what registerInstrumentations does).
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  new HttpInstrumentation();
}
let handle: lib.InitHandle;
if (order === 'before') {
  stock();
  handle = lib.init(options);
} else {
  handle = lib.init(options);
  stock();
}
const http = require('node:http') as typeof import('node:http');
const express = require('express') as typeof import('express');

const app = express();
app.use(sessionMiddleware());
app.get('/done', async (_req, res) => {
  await handle.forceFlush();
  const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  const byPath: Record<string, unknown[]> = {};
  for (const s of spans) {
    const path = String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '');
    (byPath[path] ??= []).push({
      traceId: s.spanContext().traceId,
      parent: s.parentSpanContext?.spanId,
      links: s.links.map((l) => l.context.traceId),
      sessionId: s.attributes['session.id'],
    });
  }
  res.json(byPath);
});
app.get('/{*rest}', (_req, res) => {
  res.send('ok');
});
const server = http.createServer(app);
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ listening: (server.address() as { port: number }).port })));
