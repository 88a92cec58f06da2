// A process with this library beside Langfuse: the application's own provider carries
// agentOpsSpanProcessors() and Langfuse's LangfuseSpanProcessor (as Langfuse's docs set it up,
// here exporting to memory), init() joins it, and the stock instrumentation-http and -undici
// are registered. Inside a session, Langfuse's `propagateAttributes({ asBaggage: true })` puts
// its members into the baggage; requests then go to an Express service with sessionMiddleware,
// to an internal raw server and to a "public host" (api.openai.com mapped to loopback), and a
// BullMQ job is queued. Mode `attributes` uses values that need percent-encoding (and Langfuse
// session id `chat-42`), `shared-session` the same with the AgentOps session id as Langfuse's; modes
// `at-limit`, `over-members` and `over-bytes` fill the baggage to W3C's limits (64 members,
// 8192 bytes) and one beyond. Prints {"langfuse": ...}. Run by langfuse.test.ts.
import { createRequire } from 'node:module';
import type * as HttpModule from 'node:http';
import { context, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { propagateAttributes } from '@langfuse/tracing';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import * as lib from '../../src/index.js';
import { rawServer } from '../helpers/raw-server.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';

const require = createRequire(import.meta.url);
const mode = process.argv[2] ?? 'attributes';

const dns = require('node:dns') as typeof import('node:dns');
const realLookup = dns.lookup;
(dns as { lookup: unknown }).lookup = (host: string, options: unknown, cb?: unknown) =>
  host === 'api.openai.com' ? realLookup('127.0.0.1', options as never, cb as never) : realLookup(host, options as never, cb as never);

const { InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const yours: SpanExporter & { getFinishedSpans(): ReadableSpan[] } = new InMemorySpanExporter();
const langfuseExport: SpanExporter & { getFinishedSpans(): ReadableSpan[] } = new InMemorySpanExporter();
const provider = new NodeTracerProvider({
  spanProcessors: [
    ...lib.agentOpsSpanProcessors(),
    new LangfuseSpanProcessor({ exporter: langfuseExport, exportMode: 'immediate', shouldExportSpan: () => true }),
    new SimpleSpanProcessor(yours),
  ],
});
provider.register();
const handle = lib.init();
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
new HttpInstrumentation();
new UndiciInstrumentation();

const http = require('node:http') as typeof HttpModule;
const express = require('express') as typeof import('express');
const bullmq = require('bullmq') as typeof import('bullmq');

function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
}

/** What a receiving hop saw: its session, the baggage entries in its context, the raw header. */
interface Received {
  sessionId: string | undefined;
  entries: Record<string, string>;
  header: string[];
}

function received(header: string[]): Received {
  const entries = Object.fromEntries(
    (propagation.getBaggage(context.active())?.getAllEntries() ?? []).map(([k, e]) => [k, e.value] as [string, string]),
  );
  return { sessionId: lib.getSessionId(), entries, header };
}

/** Langfuse's parameters for each mode; the fill modes size metadata values to reach the limits exactly. */
function langfuseParams(sessionId: string): Parameters<typeof propagateAttributes>[0] {
  if (mode === 'attributes' || mode === 'shared-session') {
    return {
      userId: 'user 1@example.com',
      // The documented workaround for the session.id both tools write: Langfuse's session is AgentOps'.
      sessionId: mode === 'shared-session' ? sessionId : 'chat-42',
      tags: ['beta', 'a,b'],
      metadata: { tenant: 'acme', note: 'café 100% ; "quoted"', 'run id': 'not a token key' },
      version: 'v1.2',
      traceName: 'support',
      asBaggage: true,
    };
  }
  // The session entry: id, root and flags members. Then Langfuse metadata members
  // `langfuse_metadata_mNN=<x...>` (values need no encoding: bytes = characters).
  const sessionBytes = `agentops.session.id=${sessionId},agentops.session.root=${'0'.repeat(16)},agentops.session.flags=03`.length;
  const members = mode === 'over-members' ? 62 : 61; // + 3 session members: 64, or 65
  const targetBytes = mode === 'over-bytes' ? 8193 : 8192;
  const keyBytes = 'langfuse_metadata_m00='.length;
  let valueBytes = targetBytes - sessionBytes - members * (1 + keyBytes); // one comma before each
  if (mode === 'over-members') valueBytes = members * 100; // well under the byte limit
  const metadata: Record<string, string> = {};
  for (let i = 0; i < members; i++) {
    const size = Math.floor(valueBytes / members) + (i < valueBytes % members ? 1 : 0);
    metadata[`m${String(i).padStart(2, '0')}`] = 'x'.repeat(size);
  }
  return { metadata, asBaggage: true };
}

async function main(): Promise<void> {
  const raw = await rawServer();
  const hops: Record<string, Received> = {};
  const app = express();
  app.use(sessionMiddleware());
  app.post('/hop', async (req, res) => {
    const header: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      if (req.rawHeaders[i]!.toLowerCase() === 'baggage') header.push(req.rawHeaders[i + 1]!);
    hops.http = received(header);
    await lib.withAgent('receiver', async () => 'ok');
    res.json({});
  });
  const server = await new Promise<HttpModule.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const full = mode === 'attributes' || mode === 'shared-session';
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  const queueName = `coexist-langfuse-${Math.random().toString(16).slice(2, 10)}`;
  const queue = full ? new bullmq.Queue(queueName, { connection, telemetry: sessionTelemetry() }) : undefined;
  const worker = full
    ? new bullmq.Worker(queueName, async () => void (hops.bullmq = received([])), { connection, telemetry: sessionTelemetry() })
    : undefined;
  queue?.on('error', () => {});
  worker?.on('error', () => {});

  const session = lib.startSession({ name: 'langfuse' });
  const heads: Record<string, string> = {};
  let rootAttributes: Record<string, unknown> = {};
  await lib.withSession(session, () =>
    propagateAttributes(langfuseParams(session.id), async () => {
      await (await sessionFetch()(`${base}/hop`, { method: 'POST' })).text();
      if (queue !== undefined) {
        await queue.add('job', {});
        const at = async (name: string, fn: () => Promise<unknown>) => {
          const n = raw.heads.length;
          await fn();
          heads[name] = raw.heads.slice(n).join('\r\n\r\n');
        };
        const internal = `http://127.0.0.1:${raw.port}/internal`;
        const pub = `http://api.openai.com:${raw.port}/v1/chat`;
        await at('sessionFetch-internal', async () => (await sessionFetch()(internal)).text());
        await at('fetch-internal', async () => (await fetch(internal)).text());
        await at('http-internal', () => get(internal));
        await at('sessionFetch-public', async () => (await sessionFetch()(pub)).text());
        await at('fetch-public', async () => (await fetch(pub)).text());
        await at('http-public', () => get(pub));
        const until = Date.now() + 30_000;
        while (hops.bullmq === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
      const active = trace.getActiveSpan() as unknown as ReadableSpan | undefined;
      rootAttributes = { ...(active?.attributes ?? {}) };
    }),
  );
  session.end();

  await worker?.close();
  await queue?.obliterate({ force: true });
  await queue?.close();
  await new Promise((resolve) => server.close(resolve));
  raw.close();
  await provider.forceFlush();
  const spanOf = (s: ReadableSpan) => ({
    name: s.name,
    traceId: s.spanContext().traceId,
    sessionId: s.attributes['session.id'],
    agentopsSessionId: s.attributes['agentops.session.id'],
    langfuseUserId: s.attributes['user.id'],
  });
  const report = {
    mode,
    sessionId: session.id,
    hops,
    heads,
    rootAttributes,
    spans: yours.getFinishedSpans().map(spanOf),
    langfuseSpans: langfuseExport.getFinishedSpans().length,
  };
  await handle.shutdown();
  await provider.shutdown();
  console.log(JSON.stringify({ langfuse: report }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
