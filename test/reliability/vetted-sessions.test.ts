// Issue 13 ("Security I"), each defect as the attack an independent review reproduced, against the
// real transports (HTTP servers on loopback, the Kafka broker and Redis the suite starts). Each
// test asserts what the victim's spans, the next service and a third party see.

import { context, defaultTextMapSetter, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Queue, Worker, type Job } from 'bullmq';
import express, { type RequestHandler } from 'express';
import type { KafkaMessage } from 'kafkajs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionTelemetry, withJobContext } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { injectSessionHeaders, sessionFetch } from '../../adapters/http/index.js';
import { instrumentConsumer, withMessageContext, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { sharedState } from '../../src/base/state.js';
import { createKeyring, getSessionId, SessionSpanProcessor, startSession, withSession, type Session } from '../../src/index.js';
import { signSessionEntry } from '../../src/policy/signing.js';
import { SESSION_BAGGAGE_KEY } from '../../src/session/entry.js';
import { connection, uniqueQueueName, waitFor } from '../bullmq/helpers.js';
import { disableGlobalTracing, registerGlobalTracing } from '../helpers/otel.js';
import { createTopics, fastConsumerConfig, kafkaClient } from '../kafka/helpers.js';

const KEY = 'vetted-sessions-test-key-0123456789';
const keyring = createKeyring(KEY);

let exporter: InMemorySpanExporter;
let provider: NodeTracerProvider;
/** Someone else's session: the attacker wants into it. */
let victim: Session;
/** A session whose correctly signed entry the attacker captured (it rode a request it saw). */
let captured: Session;
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  exporter = new InMemorySpanExporter();
  // baggageKeys: what an application stamps from the baggage; the attacker's members must not get there.
  provider = new NodeTracerProvider({
    spanProcessors: [new SessionSpanProcessor({ baggageKeys: ['role', 'tenant'] }), new SimpleSpanProcessor(exporter)],
  });
  registerGlobalTracing(provider);
  victim = startSession({ name: 'victim' });
  captured = startSession({ name: 'captured' });
});
afterEach(async () => {
  sharedState().globalSessionBaggage = false;
  for (const close of closers.splice(0)) await close();
});
afterAll(async () => {
  victim.end();
  captured.end();
  await provider.shutdown();
  disableGlobalTracing();
});

function entryOf(session: Session, signature?: string): string {
  return `${SESSION_BAGGAGE_KEY}=${session.id};root=${session.rootSpanId};flags=03${signature === undefined ? '' : `;sig=${signature}`}`;
}
/** The session's entry signed `ageSeconds` ago (captured from an earlier request). */
function signatureOf(session: Session, ageSeconds = 0): string {
  return signSessionEntry(
    { sessionId: session.id, rootSpanId: session.rootSpanId, traceFlags: 3 },
    keyring,
    Math.floor(Date.now() / 1000) - ageSeconds,
  );
}
function traceparentIn(session: Session): string {
  return `00-${session.id}-${'e'.repeat(16)}-01`;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A server that answers with the W3C headers it received: the third party / next hop's view. */
async function echoServer(): Promise<string> {
  return listen(
    createServer((req, res) => {
      const seen: Record<string, string> = {};
      for (const name of ['traceparent', 'baggage']) if (typeof req.headers[name] === 'string') seen[name] = req.headers[name] as string;
      res.setHeader('content-type', 'application/json').end(JSON.stringify(seen));
    }),
  );
}

/** The next service of the deployment: verifies signatures with the same key, reports the session it joined. */
async function nextService(): Promise<string> {
  const app = express();
  app.use(sessionMiddleware({ trust: 'trust', signingKey: KEY }));
  app.all('/next', (_req, res) => void res.json({ session: getSessionId() ?? null }));
  return listen(createServer(app));
}

async function post(url: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

/** No span but the victim's own root claims the victim's session. */
function expectVictimSessionUntouched(): void {
  const stamped = exporter
    .getFinishedSpans()
    .filter((s) => s.attributes['session.id'] === victim.id && s.spanContext().spanId !== victim.rootSpanId);
  expect(stamped.map((s) => s.name)).toEqual([]);
}

describe('defect 1: an unvetted entry in the context is neither stamped nor signed nor forwarded', () => {
  it('a middleware before sessionMiddleware (global extract, as a stock instrumentation does) and injectSessionHeaders in it', async () => {
    const next = await nextService();
    let injected: Record<string, string> = {};
    let nextSaw: unknown;
    const beforeOurs: RequestHandler = (req, _res, goOn) => {
      // What instrumentation-http does for every request: the caller's context, unvetted.
      const extracted = propagation.extract(context.active(), req.headers);
      context.with(extracted, () => {
        trace.getTracer('stock-instrumentation').startSpan('stock server span').end();
        injected = injectSessionHeaders({}, `${next}/next`, { signingKey: KEY });
        void fetch(`${next}/next`, { headers: injected })
          .then(async (r) => (nextSaw = await r.json()))
          .then(() => goOn(), goOn);
      });
    };
    const app = express();
    app.use(beforeOurs);
    app.use(sessionMiddleware({ trust: 'link', signingKey: KEY }));
    app.post('/run', (_req, res) => void res.json({ session: getSessionId() ?? null }));
    const base = await listen(createServer(app));

    const seen = await post(`${base}/run`, { traceparent: traceparentIn(victim), baggage: entryOf(victim) });

    // The victim's spans: the stock span sits in the trace the caller named, but is not stamped.
    const [stock] = spansNamed('stock server span');
    expect(stock?.spanContext().traceId).toBe(victim.id);
    expect(stock?.attributes['session.id']).toBeUndefined();
    expect(seen.session).toBeNull();
    // The next service: no entry, so nothing signed for it to accept.
    expect(injected.baggage ?? '').not.toContain(SESSION_BAGGAGE_KEY);
    expect(nextSaw).toEqual({ session: null });
    expectVictimSessionUntouched();
  });
});

describe('defect 2: a signature vouches for the session entry only, and is never forwarded', () => {
  it('on a link route a captured signed entry joins nothing unless the route opts in (signedUpgrade); then the rest of the baggage is dropped', async () => {
    const echo = await echoServer();
    const onward = sessionFetch(undefined, { signingKey: KEY });
    const handler: RequestHandler = (_req, res) => {
      trace.getTracer('app').startSpan('work').end();
      void onward(`${echo}/third-party`).then(async (r) => void res.json({ session: getSessionId() ?? null, onward: await r.json() }));
    };
    const app = express();
    app.post('/plain', sessionMiddleware({ trust: 'link', signingKey: KEY }), handler);
    app.post('/upgrade', sessionMiddleware({ trust: 'link', signingKey: KEY, signedUpgrade: true }), handler);
    const base = await listen(createServer(app));
    const capturedSignature = signatureOf(captured, 3600);
    const replayed = { traceparent: traceparentIn(captured), baggage: `${entryOf(captured, capturedSignature)},role=admin` };

    const plain = await post(`${base}/plain`, replayed);
    expect(plain.session).toBeNull();
    expect((plain.onward as Record<string, string>).baggage).toBeUndefined();

    exporter.reset();
    const upgraded = await post(`${base}/upgrade`, replayed);
    expect(upgraded.session).toBe(captured.id);
    const onwardBaggage = (upgraded.onward as Record<string, string>).baggage ?? '';
    expect(onwardBaggage).toContain(`${SESSION_BAGGAGE_KEY}=${captured.id}`);
    expect(onwardBaggage).not.toContain('role=admin');
    // Signed afresh by this hop, not the sender's signature passed on.
    expect(onwardBaggage).toContain('agentops.session.sig=v1.');
    expect(onwardBaggage).not.toContain(capturedSignature);
    const [work] = spansNamed('work');
    expect(work?.attributes['session.id']).toBe(captured.id);
    expect(work?.attributes.role).toBeUndefined();
  });

  it('with globalSessionBaggage, a stock HTTP call (global inject) to any host does not carry the signature the service received', async () => {
    const thirdParty = await echoServer();
    const app = express();
    app.use(sessionMiddleware({ trust: 'trust', signingKey: KEY }));
    app.post('/run', (_req, res) => {
      // What instrumentation-http does for an outgoing request: the global propagator, no target policy.
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers, defaultTextMapSetter);
      const req = request(`${thirdParty}/llm`, { headers }, (answer) => {
        let body = '';
        answer.on('data', (c: Buffer) => (body += c.toString()));
        answer.on('end', () => void res.json({ session: getSessionId() ?? null, thirdParty: JSON.parse(body) }));
      });
      req.end();
    });
    const base = await listen(createServer(app));
    sharedState().globalSessionBaggage = true;
    const signature = signatureOf(captured, 3600);
    const seen = await post(`${base}/run`, { traceparent: traceparentIn(captured), baggage: entryOf(captured, signature) });
    expect(seen.session).toBe(captured.id);
    const baggage = (seen.thirdParty as Record<string, string>).baggage ?? '';
    expect(baggage).toContain(`${SESSION_BAGGAGE_KEY}=${captured.id}`);
    expect(baggage).not.toContain('sig=');
  });
});

describe('defect 3: with a key, caller baggage is never kept beside an unsigned entry, with or without traceparent', () => {
  it.each([
    ['without traceparent', false],
    ['with traceparent', true],
  ])('%s', async (_name, withTraceparent) => {
    const echo = await echoServer();
    const onward = sessionFetch(undefined, { signingKey: KEY });
    const app = express();
    // Loopback caller: trusted by default.
    app.use(sessionMiddleware({ signingKey: KEY }));
    app.post('/run', (_req, res) => {
      trace.getTracer('app').startSpan('work').end();
      void onward(`${echo}/next`).then(async (r) => void res.json({ session: getSessionId() ?? null, onward: await r.json() }));
    });
    const base = await listen(createServer(app));
    exporter.reset();
    const headers: Record<string, string> = { baggage: `${entryOf(victim)},tenant=evil` };
    if (withTraceparent) headers.traceparent = traceparentIn(victim);
    const seen = await post(`${base}/run`, headers);
    expect(seen.session).toBeNull();
    expect((seen.onward as Record<string, string>).baggage).toBeUndefined();
    expect(spansNamed('work')[0]?.attributes.tenant).toBeUndefined();
    expectVictimSessionUntouched();
  });
});

describe('defect 5: withMessageContext finds the topic policy by what identifies the message', () => {
  it("a handler's copy of a message from an `ignore` topic does not join the session its headers claim; unknown messages get link", async () => {
    const kafka = kafkaClient();
    const [ignored, trusted] = (await createTopics(kafka, 2)) as [string, string];
    const producer = kafka.producer();
    await producer.connect();
    closers.push(() => producer.disconnect());
    const headers = (session: Session) => ({ traceparent: traceparentIn(session), baggage: entryOf(session) });
    const seen = new Map<string, string | null>();
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), { topics: { [ignored]: { trust: 'ignore' } } });
    const plain = kafka.consumer(fastConsumerConfig());
    closers.push(async () => {
      await consumer.disconnect();
      await plain.disconnect();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [ignored, trusted], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, withMessageContext: inContext }: InstrumentedEachBatchPayload) => {
        for (const m of batch.messages) {
          const decoded: KafkaMessage = { ...m, value: Buffer.from(`decoded ${String(m.value)}`) };
          seen.set(
            `${batch.topic} copy`,
            inContext(decoded, () => getSessionId() ?? null),
          );
          seen.set(
            `${batch.topic} copy, standalone`,
            withMessageContext(decoded, () => getSessionId() ?? null),
          );
        }
      },
    });
    await plain.connect();
    await plain.subscribe({ topics: [ignored], fromBeginning: true });
    await plain.run({
      eachMessage: async ({ message }) =>
        void seen.set(
          'not delivered by an instrumented consumer',
          withMessageContext(message, () => getSessionId() ?? null),
        ),
    });
    await producer.send({ topic: ignored, messages: [{ value: 'a', headers: headers(victim) }] });
    await producer.send({ topic: trusted, messages: [{ value: 'b', headers: headers(captured) }] });
    await waitFor('every message', () => seen.size === 5, 60_000);

    expect(seen.get(`${ignored} copy`)).toBeNull();
    expect(seen.get(`${ignored} copy, standalone`)).toBeNull();
    expect(seen.get('not delivered by an instrumented consumer')).toBeNull();
    // Identified by offset, a copy from a trusted topic still joins its session.
    expect(seen.get(`${trusted} copy`)).toBe(captured.id);
    expect(seen.get(`${trusted} copy, standalone`)).toBe(captured.id);
    expectVictimSessionUntouched();
  });
});

describe('defect 6: BullMQ withJobContext matches the running job by queue and id', () => {
  it("job 1 of an `ignore` queue inside job 1 of another queue does not take that job's session", async () => {
    const internal = uniqueQueueName('internal');
    const webhooks = uniqueQueueName('webhooks');
    const telemetry = sessionTelemetry();
    const queue = new Queue(internal, { connection: connection(), telemetry });
    const handleWebhook = withJobContext(async () => getSessionId() ?? null, { queues: { [webhooks]: { trust: 'ignore' } } });
    const results: Record<string, unknown> = {};
    const worker = new Worker(
      internal,
      async (job: Job) => {
        // The same id in another queue: a different job, decided under its own queue's policy.
        results.otherQueue = await handleWebhook({
          id: job.id,
          queueName: webhooks,
          opts: { telemetry: { metadata: JSON.stringify({ traceparent: traceparentIn(victim), baggage: entryOf(victim) }) } },
        });
        // The running job itself: no second hop, its session.
        results.sameJob = await handleWebhook(job);
        results.jobId = job.id;
      },
      { connection: connection(), telemetry },
    );
    worker.on('error', () => undefined);
    closers.push(async () => {
      await worker.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    });
    await withSession(captured, () => queue.add('job', {}));
    await waitFor('the job', () => 'sameJob' in results, 30_000);
    expect(results.jobId).toBe('1');
    expect(results.otherQueue).toBeNull();
    expect(results.sameJob).toBe(captured.id);
  });
});
