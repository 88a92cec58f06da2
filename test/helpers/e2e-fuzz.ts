// Hostile propagation input end to end, over the real transports: fast-check generates the cases
// (the same generators as the in-process runs), then real HTTP requests, real Kafka messages and
// real BullMQ jobs carry them to instrumented services, whose handlers check that the request,
// message or job arrived exactly as sent and send onward over the same transport, where what
// arrives is checked against the W3C grammar and the trust policy (see hopProblems).

import { Queue, Worker, type Job } from 'bullmq';
import express from 'express';
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { createServer, Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { instrumentConsumer, instrumentProducer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { getSessionId, type ShapeMode, type TrustMode } from '../../src/index.js';
import { connection, uniqueQueueName } from '../bullmq/helpers.js';
import { createTopics, fastConsumerConfig, waitFor } from '../kafka/helpers.js';
import {
  activeSpan,
  hopProblems,
  tallyHop,
  inputText,
  VARIANTS,
  variantIndex,
  w3cFields,
  type FuzzFigures,
  type HopResult,
  type Variant,
} from './carrier-fuzz.js';
import { inParallel } from './child.js';
import { postLines } from './header-lines.js';
import {
  anyText,
  fieldName,
  FUZZ_SIGNING_KEY,
  headerText,
  incomingHeaders,
  jobMetadata,
  kafkaHeaders,
  randomBytes,
  sameData,
} from './hostile.js';
import { outboundProblems } from './w3c-oracle.js';

/** Figures of an end-to-end run. */
export interface E2eFigures extends FuzzFigures {
  /** Problems found (empty when the run passed). */
  problems: string[];
}

/** A short printable form of a carrier for a failure message. */
function show(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer'
        ? `<${Buffer.from((v as { data: number[] }).data).toString('hex')}>`
        : v,
    )?.slice(0, Number(process.env.SHOW_MAX ?? 300)) ?? String(value)
  );
}

function newFigures(): E2eFigures {
  return { cases: 0, hops: 0, sessionsAccepted: 0, traceparentsSent: 0, problems: [] };
}

function record(figures: E2eFigures, id: string, problems: string[]): void {
  if (problems.length > 0 && figures.problems.length < 20) figures.problems.push(`case ${id}: ${problems.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// HTTP

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Framing headers are the HTTP client's business, and Fastify refuses a malformed content-type itself.
const FRAMING = new Set([
  'host',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
]);

/** A header value as it can travel: the string's UTF-8 bytes as Latin-1 (so non-UTF-8 byte runs occur), minus what HTTP forbids, OWS trimmed as the parser will. */
function wireValue(value: string): string {
  return (
    Buffer.from(value, 'utf8')
      .toString('latin1')
      // eslint-disable-next-line no-control-regex -- stripping control characters is the point
      .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')
      .replace(/^[ \t]+|[ \t]+$/g, '')
  );
}

interface HttpCase {
  id: string;
  variant: Variant;
  /** Header lines in order, names as sent (repeats allowed). */
  lines: [string, string][];
  body: Buffer;
}

const httpCase = fc.record({
  vi: variantIndex,
  plausible: incomingHeaders,
  extra: fc.array(fc.tuple(fieldName, headerText), { maxLength: 3 }),
  user: anyText,
  body: randomBytes(200),
});

function httpCases(count: number, seed: number): HttpCase[] {
  return fc.sample(httpCase, { numRuns: count, seed }).map((c, i) => {
    const variant = VARIANTS[c.vi]!;
    const lines: [string, string][] = [];
    for (const [name, value] of [...Object.entries(c.plausible), ...c.extra]) {
      if (!TOKEN.test(name) || FRAMING.has(name.toLowerCase())) continue;
      for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') lines.push([name, wireValue(v)]);
    }
    const id = String(i);
    lines.push(['x-case', id], ['x-trust', variant.trust], ['x-shape', variant.shape], ['x-user-data', wireValue(c.user)]);
    return { id, variant, lines, body: c.body };
  });
}

interface ServerVerdict {
  problems: string[];
  result: HopResult;
}

/** What the handler checks: the request as sent, then the hop's onward call as received downstream. */
async function checkRequest(
  expected: HttpCase | undefined,
  rawHeaders: string[],
  body: Buffer,
  headers: IncomingHttpHeaders,
  onward: string,
): Promise<ServerVerdict> {
  const session = getSessionId();
  const span = activeSpan();
  const problems: string[] = [];
  if (expected === undefined) return { problems: ['unknown case'], result: { session, outbound: {}, span } };
  const arrived: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (!FRAMING.has(rawHeaders[i]!.toLowerCase())) arrived.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  if (JSON.stringify(arrived) !== JSON.stringify(expected.lines))
    problems.push(`headers arrived changed: ${JSON.stringify(arrived).slice(0, 300)}`);
  if (!body.equals(expected.body)) problems.push('body arrived changed');
  const response = await fetchOnward(`${onward}/echo`, { method: 'POST', headers: { 'x-user': 'u' }, body: 'onward' });
  const seen = (await response.json()) as IncomingHttpHeaders;
  if (seen['x-user'] !== 'u') problems.push('the onward user header was lost');
  const result: HopResult = { session, outbound: w3cFields(seen as Record<string, unknown>), span };
  problems.push(...hopProblems(result, expected.variant, inputText(headers)));
  return { problems, result };
}

const fetchOnward = sessionFetch();

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

const trustOf = (headers: IncomingHttpHeaders): TrustMode => headers['x-trust'] as TrustMode;
const shapeOf = (headers: IncomingHttpHeaders): ShapeMode => headers['x-shape'] as ShapeMode;

/** The service under test: `/plain/run` and `/signed/run`, on Express or on two Fastify apps. */
async function httpService(
  framework: 'express' | 'fastify',
  cases: Map<string, HttpCase>,
  onward: string,
): Promise<{ ports: { plain: number; signed: number }; close(): Promise<void> }> {
  const handle = async (rawHeaders: string[], headers: IncomingHttpHeaders, body: Buffer): Promise<ServerVerdict> =>
    checkRequest(cases.get(String(headers['x-case'])), rawHeaders, body, headers, onward);
  if (framework === 'express') {
    const app = express();
    for (const signed of [false, true]) {
      const router = express.Router();
      router.use(
        sessionMiddleware({
          trust: (req) => trustOf(req.headers),
          shape: (req) => shapeOf(req.headers),
          signingKey: signed ? FUZZ_SIGNING_KEY : null,
        }),
      );
      router.post('/run', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
        res.json(await handle(req.rawHeaders, req.headers, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)));
      });
      app.use(signed ? '/signed' : '/plain', router);
    }
    const server = createServer({ maxHeaderSize: 256 * 1024 }, app);
    const port = await listen(server);
    return { ports: { plain: port, signed: port }, close: () => closeServer(server) };
  }
  const apps: FastifyInstance[] = [];
  const ports: number[] = [];
  for (const signed of [false, true]) {
    const app = Fastify({ bodyLimit: 1024 * 1024, serverFactory: (h) => createServer({ maxHeaderSize: 256 * 1024 }, h) });
    await app.register(sessionPlugin, {
      trust: (request) => trustOf(request.headers),
      shape: (request) => shapeOf(request.headers),
      signingKey: signed ? FUZZ_SIGNING_KEY : null,
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/run', async (request) =>
      handle(request.raw.rawHeaders, request.headers, Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push(app);
    ports.push((app.server.address() as AddressInfo).port);
  }
  return { ports: { plain: ports[0]!, signed: ports[1]! }, close: async () => void (await Promise.all(apps.map((a) => a.close()))) };
}

/**
 * `count` real requests with generated hostile headers (repeated, mis-cased, Latin-1 bytes that
 * are not UTF-8) to a service with the framework's adapter, whose handler calls onward with
 * sessionFetch to a downstream server.
 */
export async function e2eHttpFuzz(framework: 'express' | 'fastify', count: number, seed: number): Promise<E2eFigures> {
  const figures = newFigures();
  const all = httpCases(count, seed);
  const cases = new Map(all.map((c) => [c.id, c]));
  const downstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify(req.headers)));
  });
  const onwardPort = await listen(downstream);
  const service = await httpService(framework, cases, `http://127.0.0.1:${onwardPort}`);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    await inParallel(
      all.map((c) => async () => {
        figures.cases++;
        const port = c.variant.signed ? service.ports.signed : service.ports.plain;
        const answer = await postLines(
          port,
          framework === 'express' ? (c.variant.signed ? '/signed/run' : '/plain/run') : '/run',
          c.lines,
          c.body,
          agent,
        );
        if (answer.status !== 200) return record(figures, c.id, [`answered ${answer.status}: ${answer.body.slice(0, 200)}`]);
        const verdict = JSON.parse(answer.body) as ServerVerdict;
        record(figures, c.id, verdict.problems);
        tallyHop(figures, verdict.result);
      }),
      16,
    );
  } finally {
    agent.destroy();
    await service.close();
    await closeServer(downstream);
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Kafka

/**
 * Kafka headers a real producer can send: kafkajs cannot encode null or non-string values, and
 * its decoder collects headers in a plain object, so keys such as `constructor` or `__proto__`
 * reach every consumer mangled, instrumented or not (the in-process runs cover them).
 */
function sendable(headers: Record<string, unknown>): IHeaders {
  const out: IHeaders = {};
  for (const key of Object.keys(headers)) {
    if (key in Object.prototype) continue;
    const value = headers[key];
    const values = (Array.isArray(value) ? value : [value]).filter(
      (v): v is string | Buffer => typeof v === 'string' || Buffer.isBuffer(v),
    );
    if (values.length === 0) continue;
    Object.defineProperty(out, key, {
      value: values.length === 1 && !Array.isArray(value) ? values[0] : values,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** How kafkajs delivers what was sent: every value a Buffer, a key sent several times as an array. */
function delivered(headers: IHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(headers)) {
    const value = headers[key];
    const buffers = (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8')));
    Object.defineProperty(out, key, {
      value: buffers.length === 1 ? buffers[0] : buffers,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

interface KafkaCase {
  id: string;
  variant: Variant;
  batch: boolean;
  headers: IHeaders;
  key: Buffer;
  value: Buffer;
}

/**
 * `count` real messages with generated hostile headers (Buffers with invalid UTF-8, strings,
 * repeated keys, mis-cased names) through instrumented eachMessage and eachBatch consumers, whose
 * handlers produce onward with an instrumented producer; the onward messages are read back from
 * the broker and their headers checked.
 */
export async function e2eKafkaFuzz(kafka: Kafka, count: number, seed: number): Promise<E2eFigures> {
  const figures = newFigures();
  const samples = fc.sample(
    fc.record({ vi: variantIndex, batch: fc.boolean(), headers: kafkaHeaders, key: randomBytes(16), value: randomBytes(64) }),
    { numRuns: count, seed },
  );
  const cases = samples.map((s, i): KafkaCase => {
    const variant = VARIANTS[s.vi]!;
    const headers = sendable(s.headers);
    Object.assign(headers, { 'x-case': String(i), 'x-trust': variant.trust, 'x-shape': variant.shape });
    return { id: String(i), variant, batch: s.batch, headers, key: s.key, value: Buffer.concat([Buffer.from(`${i}|`), s.value]) };
  });
  const byId = new Map(cases.map((c) => [c.id, c]));
  // eachMessage plain / signed, eachBatch plain / signed, onward.
  const [mPlain, mSigned, bPlain, bSigned, onward] = (await createTopics(kafka, 5, 2)) as [string, string, string, string, string];
  const topicOf = (c: KafkaCase) => (c.batch ? (c.variant.signed ? bSigned : bPlain) : c.variant.signed ? mSigned : mPlain);

  const sentOnward = new Map<string, Record<string, unknown>>();
  const results = new Map<string, HopResult>();
  const handled = new Map<string, number>();
  const pending: Promise<unknown>[] = [];
  const rawProducer = kafka.producer();
  await rawProducer.connect();
  // The instrumented producer hands its message copies to this one, which records them and sends them for real.
  const capturing = new Proxy(rawProducer, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return (record: Parameters<Producer['send']>[0]) => {
        for (const m of record.messages)
          sentOnward.set(String((m.headers as IHeaders)['x-case']), { ...(m.headers as Record<string, unknown>) });
        return target.send(record);
      };
    },
  });
  const producer = instrumentProducer(capturing, { signingKey: null });

  const handle = (message: KafkaMessage): void => {
    const id = message.value!.toString('latin1').slice(0, message.value!.indexOf(0x7c));
    const expected = byId.get(id);
    handled.set(id, (handled.get(id) ?? 0) + 1);
    if (expected === undefined) return record(figures, id, ['unknown case']);
    const problems: string[] = [];
    if (!sameData(message.headers, delivered(expected.headers)))
      problems.push(`headers arrived changed: ${show(message.headers)} sent ${show(expected.headers)}`);
    if (!sameData(message.value, expected.value) || !sameData(message.key, expected.key)) problems.push('key or value arrived changed');
    results.set(id, { session: getSessionId(), outbound: {}, span: activeSpan() });
    pending.push(producer.send({ topic: onward, messages: [{ value: id, headers: { 'x-user': 'u', 'x-case': id } }] }));
    record(figures, id, problems);
  };
  const trust = ({ message }: { message: KafkaMessage }): TrustMode => message.headers!['x-trust']!.toString() as TrustMode;
  const shape = ({ message }: { message: KafkaMessage }): ShapeMode => message.headers!['x-shape']!.toString() as ShapeMode;
  const policy = { trust, shape, batchShape: shape, signingKey: null };
  const signedPolicy = { signingKey: FUZZ_SIGNING_KEY };
  const consumers = [
    instrumentConsumer(kafka.consumer(fastConsumerConfig()), { ...policy, topics: { [mSigned]: signedPolicy } }),
    instrumentConsumer(kafka.consumer(fastConsumerConfig()), { ...policy, topics: { [bSigned]: signedPolicy } }),
  ] as const;
  const onwardHeaders = new Map<string, IHeaders>();
  const reader = kafka.consumer(fastConsumerConfig());
  try {
    for (const c of consumers) await c.connect();
    await reader.connect();
    await consumers[0].subscribe({ topics: [mPlain, mSigned], fromBeginning: true });
    await consumers[1].subscribe({ topics: [bPlain, bSigned], fromBeginning: true });
    await reader.subscribe({ topics: [onward], fromBeginning: true });
    await consumers[0].run({ partitionsConsumedConcurrently: 4, eachMessage: async ({ message }) => handle(message) });
    await consumers[1].run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
        for (const message of batch.messages) withMessageContext(message, () => handle(message));
      },
    });
    await reader.run({ eachMessage: async ({ message }) => void onwardHeaders.set(message.value!.toString(), message.headers ?? {}) });

    for (let i = 0; i < cases.length; i += 500) {
      const chunk = cases.slice(i, i + 500);
      await rawProducer.sendBatch({
        topicMessages: [mPlain, mSigned, bPlain, bSigned].map((topic) => ({
          topic,
          messages: chunk.filter((c) => topicOf(c) === topic).map((c) => ({ key: c.key, value: c.value, headers: c.headers })),
        })),
      });
    }
    await waitFor(`${count} messages handled`, () => handled.size === count, 300_000);
    await Promise.all(pending);
    await waitFor(`${count} onward messages read back`, () => onwardHeaders.size === count, 300_000);
  } finally {
    for (const c of [...consumers, reader]) await c.disconnect().catch(() => undefined);
    await rawProducer.disconnect().catch(() => undefined);
  }

  for (const c of cases) {
    figures.cases++;
    const result = results.get(c.id);
    if (handled.get(c.id) !== 1 || result === undefined) {
      record(figures, c.id, [`handled ${handled.get(c.id) ?? 0} times`]);
      continue;
    }
    const copy = sentOnward.get(c.id) ?? {};
    const arrived = onwardHeaders.get(c.id) ?? {};
    // What the broker delivered onward is what the instrumented producer sent.
    if (!sameData(arrived, delivered(copy as IHeaders))) record(figures, c.id, ['onward headers changed in transit']);
    result.outbound = Object.fromEntries(
      Object.entries(w3cFields(arrived as Record<string, unknown>)).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : v]),
    );
    record(figures, c.id, hopProblems(result, c.variant, inputText(delivered(c.headers))));
    tallyHop(figures, result);
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// BullMQ

/**
 * What BullMQ gives back of a stored value, whoever adds the job: the JSON round trip; strings as
 * its msgpack encoding leaves them (a lone surrogate goes out as three bytes that are not UTF-8
 * and comes back as three U+FFFD); empty arrays as Lua's cjson leaves them (empty objects).
 */
function asStored(value: unknown): unknown {
  const stored = (v: unknown): unknown => {
    if (typeof v === 'string')
      return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd\ufffd\ufffd');
    if (Array.isArray(v)) return v.length === 0 ? {} : v.map(stored);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [stored(k), stored(x)]));
    return v;
  };
  return stored(JSON.parse(JSON.stringify({ m: value })).m);
}

interface JobCase {
  id: string;
  variant: Variant;
  metadata: unknown;
  payload: string;
}

/**
 * `count` real jobs whose stored telemetry metadata is generated hostile input (not JSON, wrong
 * JSON types, someone else's fields, near-valid W3C), added with a plain Queue as any producer
 * with Redis access could, processed by Workers with `sessionTelemetry`, each adding a job onward
 * through a Queue with `sessionTelemetry`, whose stored metadata is checked.
 */
export async function e2eBullmqFuzz(count: number, seed: number): Promise<E2eFigures> {
  const figures = newFigures();
  const samples = fc.sample(fc.record({ vi: variantIndex, metadata: jobMetadata, payload: anyText }), { numRuns: count, seed });
  const cases = samples.map((s, i): JobCase => ({ id: String(i), variant: VARIANTS[s.vi]!, metadata: s.metadata, payload: s.payload }));
  const byId = new Map(cases.map((c) => [c.id, c]));
  const names = { plain: uniqueQueueName('fuzz-plain'), signed: uniqueQueueName('fuzz-signed'), onward: uniqueQueueName('fuzz-onward') };
  const onwardQueue = new Queue(names.onward, { connection: connection(), telemetry: sessionTelemetry({ signingKey: null }) });
  const handled = new Map<string, number>();
  const processor = async (job: Job) => {
    const id = String((job.data as { id: string }).id);
    handled.set(id, (handled.get(id) ?? 0) + 1);
    const expected = byId.get(id);
    if (expected === undefined) return record(figures, id, ['unknown case']);
    const problems: string[] = [];
    if (!sameData(job.data, { id, payload: expected.payload })) problems.push('job data arrived changed');
    if (!sameData(job.opts.telemetry?.metadata, asStored(expected.metadata)))
      problems.push(`stored metadata changed: ${show(job.opts.telemetry?.metadata)} added ${show(expected.metadata)}`);
    const session = getSessionId();
    const span = activeSpan();
    const next = await onwardQueue.add('next', { id });
    const stored = next.opts.telemetry?.metadata;
    const outbound = typeof stored === 'string' && stored.length > 0 ? (JSON.parse(stored) as Record<string, unknown>) : {};
    problems.push(...outboundProblems(outbound).map((p) => `onward: ${p}`));
    const result: HopResult = { session, outbound, span };
    problems.push(...hopProblems(result, expected.variant, inputText(expected.metadata)));
    record(figures, id, problems);
    tallyHop(figures, result);
  };
  const workers = [false, true].map(
    (signed) =>
      new Worker(signed ? names.signed : names.plain, processor, {
        connection: connection(),
        concurrency: 50,
        telemetry: sessionTelemetry({
          trust: (info) => (info.jobName ?? '').split(':')[0] as TrustMode,
          shape: (info) => (info.jobName ?? '').split(':')[1] as ShapeMode,
          signingKey: signed ? FUZZ_SIGNING_KEY : null,
        }),
      }),
  );
  for (const w of workers) w.on('error', () => undefined);
  const producers = {
    plain: new Queue(names.plain, { connection: connection() }),
    signed: new Queue(names.signed, { connection: connection() }),
  };
  try {
    for (let i = 0; i < cases.length; i += 500) {
      const chunk = cases.slice(i, i + 500);
      for (const signed of [false, true]) {
        const jobs = chunk
          .filter((c) => c.variant.signed === signed)
          .map((c) => ({
            name: `${c.variant.trust}:${c.variant.shape}`,
            data: { id: c.id, payload: c.payload },
            opts: { telemetry: { metadata: c.metadata as string }, removeOnComplete: true },
          }));
        if (jobs.length > 0) await (signed ? producers.signed : producers.plain).addBulk(jobs);
      }
    }
    await waitFor(`${count} jobs processed`, () => handled.size === count, 300_000);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    for (const q of [producers.plain, producers.signed, onwardQueue]) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
  }
  for (const c of cases) {
    figures.cases++;
    if (handled.get(c.id) !== 1) record(figures, c.id, [`processed ${handled.get(c.id) ?? 0} times`]);
  }
  return figures;
}
