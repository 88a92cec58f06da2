// One process running Sentry (10 or 11, each in its own child: both patch Node's globals) beside
// this library, set up the way `setup` names (docs/coexistence.md). A session crosses HTTP
// (sessionFetch -> the Express "planner"), which produces to Kafka (instrumentProducer -> the
// "researcher", instrumentConsumer eachMessage) and queues a BullMQ job (sessionTelemetry -> the
// "writer", which reports to the "critic" over HTTP); then requests go to an internal raw server
// and to a "public host" (api.openai.com, mapped to loopback, as test/http/stock-outbound does).
// Prints one line {"report": ...}: what each hop saw, the raw header blocks the raw servers
// received, the spans of the user's own exporter and what init logged. Run by sentry.test.ts.
//
// Environment: COEXIST_DSN (the test's envelope receiver), AGENTOPS_API_KEY/_API_ENDPOINT/
// _EXPORTER_ENDPOINT (the test's OTLP receiver playing AgentOps), KAFKA_BROKERS, REDIS_URL;
// COEXIST_CHAIN=0 skips Kafka and BullMQ; COEXIST_TARGETS=internal sets Sentry's
// tracePropagationTargets to loopback only; COEXIST_SENTRY_KAFKA=off leaves Sentry's Kafka
// integration out; COEXIST_SENTRY_FETCH_SPANS=off gives Sentry's fetch integration `spans: false`;
// COEXIST_BULLMQ_METADATA=1 also exchanges jobs between Sentry's BullMQTelemetry and ours
// (Sentry 11).
import { createRequire } from 'node:module';
import type * as HttpModule from 'node:http';
import { context, diag, DiagLogLevel, propagation, trace, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as lib from '../../src/index.js';
import { rawServer } from '../helpers/raw-server.js';
import { injectSessionHeaders, sessionFetch } from '../../adapters/http/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { instrumentConsumer, instrumentProducer } from '../../adapters/kafkajs/index.js';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';

// CommonJS require for what Sentry instruments through require hooks (node:http, express,
// kafkajs): loaded after Sentry.init, as Sentry's docs ask.
const require = createRequire(import.meta.url);

/** Setups, by the order and hooks they use (docs/coexistence.md). */
export type Setup =
  | '10-hook' // Sentry.init({ openTelemetrySpanProcessors: [...agentOpsSpanProcessors(), yours] }), then init()
  | '10-hook-exporters' // the same with agentOpsSpanProcessors({ exporters: [yours] })
  | '10-naive' // Sentry.init(), then init({ exporters }): what users tried
  | '10-init-first' // init({ exporters }), then Sentry.init()
  | '10-custom' // Sentry.init({ skipOpenTelemetrySetup }), your provider with Sentry's parts, then init()
  | '11-init-first' // init({ exporters }), then Sentry.init()
  | '11-sentry-first' // Sentry.init(), then init({ exporters })
  | '11-linked' // init-first with Sentry's openTelemetryIntegration (errors on the session's trace)
  | '11-otel-setup'; // Sentry.init({ enableOpenTelemetrySetup: true }), then init({ exporters })

const setup = (process.argv[2] ?? '11-init-first') as Setup;
const major = setup.startsWith('10') ? 10 : 11;
const env = process.env;
const chain = env.COEXIST_CHAIN !== '0';

// What init and the library log (warnings about the provider, the propagator).
const logged: string[] = [];
const record =
  (level: string) =>
  (...args: unknown[]) =>
    void logged.push(`${level}: ${args.map(String).join(' ')}`);
diag.setLogger(
  { error: record('error'), warn: record('warn'), info: record('info'), debug: () => {}, verbose: () => {} },
  DiagLogLevel.INFO,
);

// The public host resolves to loopback (fetch has no agent to give a lookup to).
const dns = require('node:dns') as typeof import('node:dns');
const realLookup = dns.lookup;
(dns as { lookup: unknown }).lookup = (host: string, options: unknown, cb?: unknown) =>
  host === 'api.openai.com' ? realLookup('127.0.0.1', options as never, cb as never) : realLookup(host, options as never, cb as never);

const { InMemorySpanExporter, SimpleSpanProcessor, ParentBasedSampler } = require('@opentelemetry/sdk-trace-base');
/** The application's own exporter ("yours"), besides AgentOps'. */
const yours: SpanExporter & { getFinishedSpans(): ReadableSpan[] } = new InMemorySpanExporter();

// The published @sentry/node majors: 10 is installed under the npm alias sentry-node10; its own
// @sentry/opentelemetry (10.x) is the one its custom setup needs.
const Sentry = require(major === 10 ? 'sentry-node10' : '@sentry/node');
const sentryOtel10 = major === 10 ? createRequire(require.resolve('sentry-node10'))('@sentry/opentelemetry') : undefined;

/** Sentry's integrations: its defaults, less what the environment turns off (sentry.test.ts's configuration runs). */
function integrations(defaults: { name: string }[]): unknown[] {
  const out: unknown[] = defaults.filter((i) => !(env.COEXIST_SENTRY_KAFKA === 'off' && i.name === 'Kafka'));
  if (env.COEXIST_SENTRY_FETCH_SPANS === 'off')
    return [...out.filter((i) => (i as { name: string }).name !== 'NodeFetch'), Sentry.nativeNodeFetchIntegration({ spans: false })];
  return out;
}

const sentryOptions = {
  dsn: env.COEXIST_DSN,
  tracesSampleRate: 1,
  integrations,
  // Sentry 10 spans are this library's spans (same trace): its HTTP and fetch integrations may
  // write the W3C traceparent too, so that plain requests continue the trace downstream.
  ...(major === 10 && setup !== '10-naive' && setup !== '10-init-first' ? { propagateTraceparent: true } : {}),
  ...(env.COEXIST_TARGETS === 'internal' ? { tracePropagationTargets: [/^http:\/\/127\.0\.0\.1[:/]/] } : {}),
};

let handle: lib.InitHandle;
let ownProvider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | undefined;
switch (setup) {
  case '10-hook':
    Sentry.init({ ...sentryOptions, openTelemetrySpanProcessors: [...lib.agentOpsSpanProcessors(), new SimpleSpanProcessor(yours)] });
    handle = lib.init();
    break;
  case '10-hook-exporters':
    Sentry.init({ ...sentryOptions, openTelemetrySpanProcessors: lib.agentOpsSpanProcessors({ exporters: [yours] }) });
    handle = lib.init();
    break;
  case '10-naive':
  case '11-sentry-first':
    Sentry.init(sentryOptions);
    handle = lib.init({ exporters: [yours] });
    break;
  case '10-init-first':
  case '11-init-first':
    handle = lib.init({ exporters: [yours] });
    Sentry.init(sentryOptions);
    break;
  case '11-otel-setup':
    Sentry.init({ ...sentryOptions, enableOpenTelemetrySetup: true });
    handle = lib.init({ exporters: [yours] });
    break;
  case '11-linked':
    handle = lib.init({ exporters: [yours] });
    Sentry.init({ ...sentryOptions, integrations: (d: { name: string }[]) => [...integrations(d), Sentry.openTelemetryIntegration()] });
    break;
  case '10-custom': {
    // Sentry's "use your own OpenTelemetry setup", with its sampler deciding only at the root.
    const client = Sentry.init({ ...sentryOptions, skipOpenTelemetrySetup: true });
    const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
    const processors: SpanProcessor[] = [
      ...lib.agentOpsSpanProcessors(),
      new sentryOtel10.SentrySpanProcessor(),
      new SimpleSpanProcessor(yours),
    ];
    const provider = new NodeTracerProvider({
      sampler: new ParentBasedSampler({ root: new sentryOtel10.SentrySampler(client) }),
      spanProcessors: processors,
    });
    provider.register({ contextManager: new Sentry.SentryContextManager() });
    ownProvider = provider;
    handle = lib.init();
    break;
  }
  default:
    throw new Error(`unknown setup ${String(setup)}`);
}

/** Who owns the OpenTelemetry globals once both are set up. */
function owners(): { provider: string; propagator: string; contextManager: string } {
  const name = (v: unknown) => (v as object | undefined)?.constructor?.name ?? String(v);
  const global = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return {
    provider: name(global.getDelegate?.() ?? global),
    propagator: name((propagation as unknown as { _getGlobalPropagator(): unknown })._getGlobalPropagator()),
    contextManager: name((context as unknown as { _getContextManager(): unknown })._getContextManager()),
  };
}
const globals = owners();

const http = require('node:http') as typeof HttpModule;
const express = require('express') as typeof import('express');

function get(url: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
}

/** What a hop saw: the session, the active trace, and the propagation headers as received. */
interface Hop {
  sessionId: string | undefined;
  traceId: string | undefined;
  headers: Record<string, string[]>;
}

const PROPAGATION_HEADERS = ['traceparent', 'tracestate', 'baggage', 'sentry-trace'];

function observe(headers: Record<string, string[]>): Hop {
  return { sessionId: lib.getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId, headers };
}

/** Header lines as received (repeats kept), from Node's rawHeaders. */
function httpHeaders(raw: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (PROPAGATION_HEADERS.includes(name)) (out[name] ??= []).push(raw[i + 1]!);
  }
  return out;
}

function kafkaHeaders(headers: Record<string, unknown> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!PROPAGATION_HEADERS.includes(name.toLowerCase())) continue;
    const values = Array.isArray(value) ? value : [value];
    out[name.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  scope: string;
  sessionId: unknown;
}

function spanRecord(s: ReadableSpan): SpanRecord {
  const attributes: Attributes = s.attributes;
  return {
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    scope: s.instrumentationScope.name,
    sessionId: attributes['session.id'],
  };
}

/** BullMQ jobs exchanged between Sentry's BullMQTelemetry and ours (Sentry 11 ships one). */
interface MetadataExchange {
  queue: string;
  producer: 'sentry' | 'ours';
  metadata: unknown;
  processed: number;
  failedReason: string | undefined;
  workerSessionId: string | undefined;
  workerTraceId: string | undefined;
}

async function main(): Promise<void> {
  const hops: Record<string, Hop> = {};
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const raw = await rawServer();
  closers.push(() => raw.close());

  // The Express services: "planner" joins the caller's session, produces to Kafka (read by the
  // "researcher") and queues a BullMQ job (run by the "writer", which reports to the "critic").
  // Kafka and BullMQ are separate legs, so that what happens on one cannot hide the other.
  const app = express();
  app.use(sessionMiddleware());
  let toKafka: ((value: string) => Promise<void>) | undefined;
  let toQueue: (() => Promise<void>) | undefined;
  app.post('/plan', async (req, res) => {
    hops.planner = observe(httpHeaders(req.rawHeaders));
    Sentry.captureException(new Error('planner failed on purpose'));
    if (toKafka) await toKafka('task');
    if (toQueue) await toQueue();
    res.json({ sessionId: lib.getSessionId() ?? null });
  });
  app.post('/critic', (req, res) => {
    hops.critic = observe(httpHeaders(req.rawHeaders));
    res.json({});
  });
  const server = await new Promise<HttpModule.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  closers.push(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  let bullmq: typeof import('bullmq') | undefined;
  let connection: import('bullmq').ConnectionOptions | undefined;
  if (chain || env.COEXIST_BULLMQ_METADATA === '1') {
    bullmq = require('bullmq') as typeof import('bullmq');
    const url = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  }
  const suffix = Math.random().toString(16).slice(2, 10);

  if (chain) {
    const kafkajs = require('kafkajs') as typeof import('kafkajs');
    const kafka = new kafkajs.Kafka({
      clientId: `coexist-${suffix}`,
      brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      logLevel: kafkajs.logLevel.ERROR,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    const topic = `coexist-topic-${suffix}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
    await admin.disconnect();
    const producer = instrumentProducer(kafka.producer());
    await producer.connect();
    closers.push(() => producer.disconnect());
    toKafka = async (value) => void (await producer.send({ topic, messages: [{ value }] }));
    const consumer = instrumentConsumer(
      kafka.consumer({
        groupId: `coexist-${suffix}`,
        sessionTimeout: 6000,
        heartbeatInterval: 500,
        rebalanceTimeout: 6000,
        maxWaitTimeInMs: 100,
      }),
    );
    await consumer.connect();
    closers.push(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        hops.researcher = observe(kafkaHeaders(message.headers as Record<string, unknown>));
      },
    });

    const queueName = `coexist-queue-${suffix}`;
    const queue = new bullmq!.Queue(queueName, { connection: connection!, telemetry: sessionTelemetry() });
    closers.push(async () => {
      await queue.obliterate({ force: true });
      await queue.close();
    });
    toQueue = async () => void (await queue.add('write', { topic: 'otters' }));
    const worker = new bullmq!.Worker(
      queueName,
      async (job) => {
        const metadata = (job.opts as { telemetry?: { metadata?: string } }).telemetry?.metadata;
        hops.writer = observe(metadata === undefined ? {} : { metadata: [metadata] });
        Sentry.captureException(new Error('writer failed on purpose'));
        await (await sessionFetch()(`${base}/critic`, { method: 'POST' })).text();
      },
      { connection: connection!, telemetry: sessionTelemetry() },
    );
    worker.on('error', () => {});
    closers.push(() => worker.close());
  }

  // The gateway: the session starts here.
  const session = lib.startSession({ name: 'coexist' });
  const heads: Record<string, string> = {};
  await lib.withSession(session, async () => {
    await (await sessionFetch()(`${base}/plan`, { method: 'POST' })).text();
    if (chain) await waitFor('the researcher and the critic', () => hops.researcher !== undefined && hops.critic !== undefined);
    else await (await sessionFetch()(`${base}/critic`, { method: 'POST' })).text();

    const internal = `http://127.0.0.1:${raw.port}/internal`;
    const pub = `http://api.openai.com:${raw.port}/v1/chat`;
    const at = async (name: string, fn: () => Promise<unknown>) => {
      const n = raw.heads.length;
      await fn();
      heads[name] = raw.heads.slice(n).join('\r\n\r\n');
    };
    await at('sessionFetch-internal', async () => (await sessionFetch()(internal)).text());
    await at('fetch-internal', async () => (await fetch(internal)).text());
    await at('http-internal', () => get(internal));
    await at('inject-internal', () => get(internal, injectSessionHeaders({}, internal)));
    await at('sessionFetch-public', async () => (await sessionFetch()(pub)).text());
    await at('fetch-public', async () => (await fetch(pub)).text());
    await at('http-public', () => get(pub));
    await at('inject-public', () => get(pub, injectSessionHeaders({}, pub)));
  });

  // BullMQ metadata written by one telemetry, read by the other.
  const exchanges: MetadataExchange[] = [];
  if (env.COEXIST_BULLMQ_METADATA === '1' && major === 11) {
    for (const producerSide of ['sentry', 'ours'] as const) {
      const name = `coexist-meta-${producerSide}-${suffix}`;
      const sentryTelemetry = new Sentry.BullMQTelemetry();
      const queue = new bullmq!.Queue(name, {
        connection: connection!,
        telemetry: producerSide === 'sentry' ? sentryTelemetry : sessionTelemetry(),
      });
      const seen: { sessionId: string | undefined; traceId: string | undefined }[] = [];
      const worker = new bullmq!.Worker(
        name,
        async () => void seen.push({ sessionId: lib.getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId }),
        { connection: connection!, telemetry: producerSide === 'sentry' ? sessionTelemetry() : sentryTelemetry },
      );
      worker.on('error', () => {});
      const job = await lib.withSession(session, () => queue.add('exchange', {}));
      const done = await waitFor(`job ${name}`, async () => {
        const j = await queue.getJob(job.id!);
        return j !== undefined && (j.finishedOn !== undefined || j.failedReason !== undefined) ? j : undefined;
      });
      exchanges.push({
        queue: name,
        producer: producerSide,
        metadata: (done.opts as { telemetry?: { metadata?: unknown } }).telemetry?.metadata,
        processed: seen.length,
        failedReason: done.failedReason,
        workerSessionId: seen[0]?.sessionId,
        workerTraceId: seen[0]?.traceId,
      });
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }
  session.end();

  for (const close of closers.reverse()) await close();
  await handle.forceFlush();
  await ownProvider?.forceFlush();
  await Sentry.flush(5000);
  // Read before shutdown: an in-memory exporter forgets its spans when shut down.
  const spans = yours.getFinishedSpans().map(spanRecord);

  // After init's shutdown: does Sentry still write its header on node:http?
  await handle.shutdown();
  await ownProvider?.shutdown();
  const n = raw.heads.length;
  await Sentry.startSpan({ name: 'after-shutdown' }, () => get(`http://127.0.0.1:${raw.port}/after-shutdown`));
  heads['http-internal-after-shutdown'] = raw.heads.slice(n).join('\r\n\r\n');
  raw.close();
  await Sentry.close(5000);

  const report = {
    setup,
    globals,
    sessionId: session.id,
    hops,
    heads,
    exchanges,
    spans,
    logged,
  };
  console.log(JSON.stringify({ report }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
