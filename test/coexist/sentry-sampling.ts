// Sampling beside Sentry 10, where Sentry's sampler is the provider's: sessions cross one HTTP
// hop (sessionFetch -> Express with sessionMiddleware); a session named `drop-*` is unsampled at
// its root by Sentry's `tracesSampler`, one named `keep-*` is sampled. The sampler honours the
// parent's decision where Sentry reports one (`parentSampled`), as Sentry's docs recommend.
// Setups: `10-hook` (Sentry's own sampler on every span) and `10-custom` (Sentry's sampler at the
// root only, OpenTelemetry's ParentBasedSampler elsewhere). Prints {"sampling": ...}: the span
// names each session's trace exported, and the `parentSampled` Sentry reported for the
// server-side root decisions. Run by sentry.test.ts.
import { createRequire } from 'node:module';
import type * as HttpModule from 'node:http';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import * as lib from '../../src/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';

const require = createRequire(import.meta.url);
const setup = process.argv[2] ?? '10-hook';
const sessions = Number(process.argv[3] ?? '6');

const { InMemorySpanExporter, SimpleSpanProcessor, ParentBasedSampler } = require('@opentelemetry/sdk-trace-base');
const yours: SpanExporter & { getFinishedSpans(): ReadableSpan[] } = new InMemorySpanExporter();
const Sentry = require('sentry-node10');
const sentryOtel = createRequire(require.resolve('sentry-node10'))('@sentry/opentelemetry');

/** What Sentry's sampler was asked at each root decision: span name and the parent's decision as Sentry read it. */
const asked: { name: string; parentSampled: boolean | undefined }[] = [];
const sentryOptions = {
  dsn: process.env.COEXIST_DSN,
  tracesSampler: ({ name, parentSampled }: { name: string; parentSampled?: boolean }) => {
    asked.push({ name, parentSampled });
    return parentSampled ?? (name.startsWith('drop-') ? 0 : 1);
  },
};

let handle: lib.InitHandle;
let provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | undefined;
if (setup === '10-hook') {
  Sentry.init({ ...sentryOptions, openTelemetrySpanProcessors: [...lib.agentOpsSpanProcessors(), new SimpleSpanProcessor(yours)] });
  handle = lib.init();
} else {
  const client = Sentry.init({ ...sentryOptions, skipOpenTelemetrySetup: true });
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const own = new NodeTracerProvider({
    sampler: new ParentBasedSampler({ root: new sentryOtel.SentrySampler(client) }),
    spanProcessors: [...lib.agentOpsSpanProcessors(), new sentryOtel.SentrySpanProcessor(), new SimpleSpanProcessor(yours)],
  });
  own.register({ contextManager: new Sentry.SentryContextManager() });
  provider = own;
  handle = lib.init();
}

const express = require('express') as typeof import('express');

async function main(): Promise<void> {
  const app = express();
  app.use(sessionMiddleware());
  app.post('/work', async (_req, res) => {
    await lib.withAgent('worker', async () => 'done');
    res.json({ sessionId: lib.getSessionId() ?? null });
  });
  const server = await new Promise<HttpModule.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/work`;
  const ids: Record<string, string> = {};
  for (let i = 0; i < sessions; i++) {
    const name = `${i % 2 === 0 ? 'keep' : 'drop'}-${i}`;
    const session = lib.startSession({ name });
    ids[name] = session.id;
    await lib.withSession(session, async () => (await sessionFetch()(url, { method: 'POST' })).text());
    session.end();
  }
  await new Promise((resolve) => server.close(resolve));
  await handle.forceFlush();
  await provider?.forceFlush();
  const spans = yours.getFinishedSpans();
  const exported = Object.fromEntries(
    Object.entries(ids).map(([name, id]) => [
      name,
      spans
        .filter((s) => s.spanContext().traceId === id)
        .map((s) => s.name)
        .sort(),
    ]),
  );
  await handle.shutdown();
  await provider?.shutdown();
  await Sentry.close(2000);
  console.log(JSON.stringify({ sampling: { exported, asked } }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
