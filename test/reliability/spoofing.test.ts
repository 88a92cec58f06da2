// Spoofing, across HTTP (Express, Fastify), Kafka (eachMessage, eachBatch) and BullMQ: a caller
// that forges the session entry of someone else's session never gets its work, or its baggage,
// into that session: not in a span, not in what the hop sends onward. With a signing key, a
// forged, tampered or expired signed entry is refused and a correctly signed one passes where
// trust is `trust`, or `link` with `signedUpgrade` (then without the caller's other baggage).
// Dimension "an unvetted entry already in the context": on HTTP and Kafka every delivery runs
// again behind what a stock instrumentation does first (the global extract of the caller's
// headers around our hop); the outcomes must be the same.

import { Queue, Worker, type Job } from 'bullmq';
import express from 'express';
import Fastify from 'fastify';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, EachMessagePayload, Kafka, KafkaMessage } from 'kafkajs';
import { context, propagation, type TextMapGetter } from '@opentelemetry/api';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import {
  instrumentConsumer,
  instrumentProducer,
  kafkaHeaderGetter,
  type InstrumentedEachBatchPayload,
} from '../../adapters/kafkajs/index.js';
import { createKeyring, getSessionId, startSession, type Session, type TrustMode } from '../../src/index.js';
import { SESSION_BAGGAGE_KEY } from '../../src/session/entry.js';
import { signSessionEntry } from '../../src/policy/signing.js';
import { connection, uniqueQueueName, waitFor } from '../bullmq/helpers.js';
import { postLines } from '../helpers/header-lines.js';
import { setupTracing, type TestTracing } from '../helpers/otel.js';
import { report } from '../helpers/report.js';
import { outboundProblems, outboundSessionId } from '../helpers/w3c-oracle.js';
import { createTopics, fastConsumerConfig, kafkaClient } from '../kafka/helpers.js';

const KEY = 'spoofing-test-signing-key-0123456789';
const ATTACKER_KEY = 'attacker-chosen-key-0123456789';
const keyring = createKeyring(KEY);

/** A receiving policy: the trust mode, whether the hop verifies signatures with KEY, and whether a valid one upgrades `link`. */
interface Mode {
  name: string;
  trust: TrustMode;
  signed: boolean;
  signedUpgrade?: boolean;
}
const MODES: readonly Mode[] = [
  { name: 'ignore', trust: 'ignore', signed: false },
  { name: 'link', trust: 'link', signed: false },
  { name: 'ignore+key', trust: 'ignore', signed: true },
  { name: 'link+key', trust: 'link', signed: true },
  { name: 'link+key+upgrade', trust: 'link', signed: true, signedUpgrade: true },
  { name: 'trust+key', trust: 'trust', signed: true },
];

/** Whether the receiving side already holds an unvetted entry in its context when our hop runs. */
type PreContext = 'clean' | 'unvetted entry in context';
const PRE_CONTEXTS: readonly PreContext[] = ['clean', 'unvetted entry in context'];

/** What instrumentation-http does before any middleware: the request runs in the global extract of its headers. */
function behindStockExtract(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res) => context.with(propagation.extract(context.active(), req.headers), () => listener(req, res));
}

/** What an attacker (or a legitimate caller) sends. */
interface Attack {
  name: string;
  traceparent: string;
  baggage: string;
  /** True only for the correctly signed entry of the caller's own session. */
  legitimate: boolean;
}

let t: TestTracing;
let kafka: Kafka;
/** Someone else's session: the attacker wants into it. */
let victim: Session;
/** The caller's own session, correctly signed. */
let own: Session;
let attacks: Attack[];
const outcomes: { transport: string; mode: string; attack: string; accepted: boolean }[] = [];

function entry(session: Session, signature?: string): string {
  return `${SESSION_BAGGAGE_KEY}=${session.id};root=${session.rootSpanId};flags=03${signature !== undefined ? `;sig=${signature}` : ''}`;
}

function traceparentIn(session: Session): string {
  return `00-${session.id}-${'e'.repeat(16)}-01`;
}

beforeAll(() => {
  t = setupTracing();
  kafka = kafkaClient();
  victim = startSession({ name: 'victim' });
  own = startSession({ name: 'caller' });
  const victimEntry = { sessionId: victim.id, rootSpanId: victim.rootSpanId, traceFlags: 3 };
  const ownEntry = { sessionId: own.id, rootSpanId: own.rootSpanId, traceFlags: 3 };
  const ownSig = signSessionEntry(ownEntry, keyring);
  const now = Math.floor(Date.now() / 1000);
  const swapLastChar = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
  const extra = ',tenant=evil,role=admin';
  attacks = [
    { name: 'forged, unsigned', traceparent: traceparentIn(victim), baggage: entry(victim) + extra, legitimate: false },
    {
      name: "forged, signed with the attacker's key",
      traceparent: traceparentIn(victim),
      baggage: entry(victim, signSessionEntry(victimEntry, createKeyring(ATTACKER_KEY))) + extra,
      legitimate: false,
    },
    {
      name: 'tampered: session id swapped under a valid signature',
      traceparent: traceparentIn(victim),
      baggage: `${SESSION_BAGGAGE_KEY}=${victim.id};root=${own.rootSpanId};flags=03;sig=${ownSig}${extra}`,
      legitimate: false,
    },
    {
      name: 'tampered: root span id swapped',
      traceparent: traceparentIn(own),
      baggage: `${SESSION_BAGGAGE_KEY}=${own.id};root=${victim.rootSpanId};flags=03;sig=${ownSig}${extra}`,
      legitimate: false,
    },
    {
      name: 'tampered: flags changed',
      traceparent: traceparentIn(own),
      baggage: `${SESSION_BAGGAGE_KEY}=${own.id};root=${own.rootSpanId};flags=01;sig=${ownSig}${extra}`,
      legitimate: false,
    },
    {
      name: 'tampered: MAC altered',
      traceparent: traceparentIn(own),
      baggage: entry(own, swapLastChar(ownSig)) + extra,
      legitimate: false,
    },
    {
      name: 'expired signature',
      traceparent: traceparentIn(own),
      baggage: entry(own, signSessionEntry(ownEntry, keyring, now - 2 * 86_400)) + extra,
      legitimate: false,
    },
    { name: 'correctly signed, own session', traceparent: traceparentIn(own), baggage: entry(own, ownSig) + extra, legitimate: true },
  ];
  // Every attack in each form an entry reaches us in: 0.1.0's properties (as written above), the
  // current one member per field, and 0.1.0's entry as one percent-encoded value (what OTel Python
  // and Sentry forward). Plus a mix: the victim's id in the old form beside the caller's signed
  // members, which must not combine into a signed victim entry.
  attacks = attacks.flatMap((attack) => [
    { ...attack, name: `${attack.name} (0.1.0 properties)` },
    { ...attack, name: `${attack.name} (members)`, baggage: inEncoding(attack.baggage, 'members') },
    { ...attack, name: `${attack.name} (one encoded value)`, baggage: inEncoding(attack.baggage, 'encoded') },
  ]);
  attacks.push({
    name: "mixed: the victim's 0.1.0 entry beside the caller's signed members",
    traceparent: traceparentIn(victim),
    baggage: `${SESSION_BAGGAGE_KEY}=${victim.id};root=${victim.rootSpanId};flags=03,${inEncoding(entry(own, ownSig), 'members').slice(SESSION_BAGGAGE_KEY.length + 34)}${extra}`,
    legitimate: false,
  });
});

/** The entry (the first member of `baggage`, in 0.1.0's form) rewritten in another form; the rest kept. */
function inEncoding(baggage: string, form: 'members' | 'encoded'): string {
  const comma = baggage.indexOf(',');
  const first = comma < 0 ? baggage : baggage.slice(0, comma);
  const rest = comma < 0 ? '' : baggage.slice(comma);
  const value = first.slice(SESSION_BAGGAGE_KEY.length + 1);
  if (form === 'encoded') return `${SESSION_BAGGAGE_KEY}=${encodeURIComponent(value)}${rest}`;
  const [id, ...properties] = value.split(';');
  return [`${SESSION_BAGGAGE_KEY}=${id}`, ...properties.map((p) => `agentops.session.${p}`)].join(',') + rest;
}
afterAll(async () => {
  victim.end();
  own.end();
  const accepted = outcomes.filter((o) => o.accepted).length;
  report('spoofing', {
    deliveries: outcomes.length,
    accepted,
    refused: outcomes.length - accepted,
    attacks: attacks.length,
    modes: MODES.length,
  });
  await t.shutdown();
});

/** Whether `mode` may accept `attack`: only a correct signature, only where a key verifies it, under `trust` or an opted-in `link`. */
function mayAccept(mode: Mode, attack: Attack): boolean {
  return attack.legitimate && mode.signed && (mode.trust === 'trust' || (mode.trust === 'link' && mode.signedUpgrade === true));
}

/** What the receiving side saw and sent onward. */
interface Received {
  session: string | undefined;
  onward: Record<string, string>;
}

/** Checks one delivery, and that nothing of it landed in the victim's session. */
function check(transport: string, mode: Mode, attack: Attack, received: Received): void {
  const where = `${transport}, ${mode.name}, ${attack.name}`;
  const accepted = mayAccept(mode, attack);
  outcomes.push({ transport, mode: mode.name, attack: attack.name, accepted: received.session !== undefined });
  expect(received.session, where).toBe(accepted ? own.id : undefined);
  expect(outboundProblems(received.onward), where).toEqual([]);
  expect(outboundSessionId(received.onward.baggage), where).toBe(accepted ? own.id : undefined);
  if (!accepted) {
    // Nothing of the caller's baggage travels on, and the onward trace is not the claimed one.
    expect(received.onward.baggage, where).toBeUndefined();
    expect(received.onward.traceparent?.slice(3, 35), where).not.toBe(victim.id);
    expect(received.onward.traceparent?.slice(3, 35), where).not.toBe(own.id);
  } else {
    expect(received.onward.traceparent?.slice(3, 35), where).toBe(own.id);
    expect(received.onward.baggage, where).toContain('agentops.session.sig=v1.');
    // The signature vouched for the session entry only: an upgraded caller's other baggage stays behind.
    if (mode.trust === 'link') expect(received.onward.baggage, where).not.toContain('tenant=evil');
  }
}

/** No span but the victim's own root is in the victim's trace or claims the victim's session. */
function expectVictimUntouched(): void {
  const intruders = t
    .spans()
    .filter(
      (s) =>
        (s.spanContext().traceId === victim.id || s.attributes['session.id'] === victim.id) && s.spanContext().spanId !== victim.rootSpanId,
    );
  expect(intruders.map((s) => s.name)).toEqual([]);
}

/**
 * What instrumentation-kafkajs does around each handler call: the handler runs in the global
 * extract of the message's headers (eachBatch: of the first message's), before our hop runs.
 */
function behindStockKafkaExtract(consumer: Consumer): Consumer {
  const extracted = (message: KafkaMessage | undefined) =>
    propagation.extract(context.active(), message?.headers ?? {}, kafkaHeaderGetter as TextMapGetter<unknown>);
  return new Proxy(consumer, {
    get(target, prop, receiver) {
      if (prop !== 'run') return Reflect.get(target, prop, receiver);
      return (config: ConsumerRunConfig) =>
        target.run({
          ...config,
          ...(config.eachMessage
            ? { eachMessage: (p: EachMessagePayload) => context.with(extracted(p.message), () => config.eachMessage!(p)) }
            : {}),
          ...(config.eachBatch
            ? { eachBatch: (p: EachBatchPayload) => context.with(extracted(p.batch.messages[0]), () => config.eachBatch!(p)) }
            : {}),
        });
    },
  });
}

function fromHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate', 'baggage']) if (typeof headers[name] === 'string') out[name] = headers[name] as string;
  return out;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('HTTP', () => {
  it.each((['express', 'fastify'] as const).flatMap((f) => PRE_CONTEXTS.map((pre) => [f, pre] as const)))(
    '%s, %s: every attack in every mode',
    async (framework, pre) => {
      const serve = (listener: RequestListener): RequestListener => (pre === 'clean' ? listener : behindStockExtract(listener));
      const downstream = createServer(
        (req, res) => void res.setHeader('content-type', 'application/json').end(JSON.stringify(fromHeaders(req.headers))),
      );
      const downstreamPort = await listen(downstream);
      const onward = sessionFetch(undefined, { signingKey: KEY });
      const handler = async (): Promise<Received> => {
        const session = getSessionId();
        const res = await onward(`http://127.0.0.1:${downstreamPort}/next`);
        return { session, onward: (await res.json()) as Record<string, string> };
      };
      /** Where each mode is served. */
      const endpoints = new Map<string, { port: number; path: string }>();
      const closers: (() => Promise<void>)[] = [() => new Promise((resolve) => downstream.close(() => resolve()))];
      const pathOf = (mode: Mode) => `/${mode.name.replaceAll('+', '-')}/run`;
      if (framework === 'express') {
        const app = express();
        for (const mode of MODES) {
          const router = express.Router();
          router.use(
            sessionMiddleware({ trust: mode.trust, signingKey: mode.signed ? KEY : null, signedUpgrade: mode.signedUpgrade === true }),
          );
          router.post('/run', async (_req, res) => void res.json(await handler()));
          app.use(pathOf(mode).slice(0, -'/run'.length), router);
        }
        const server = createServer(serve(app));
        const port = await listen(server);
        closers.push(() => new Promise((resolve) => server.close(() => resolve())));
        for (const mode of MODES) endpoints.set(mode.name, { port, path: pathOf(mode) });
      } else {
        // The plugin's key applies to the whole app: one app per key setting, trust per route.
        for (const signed of [false, true]) {
          const app = Fastify({ serverFactory: (handler) => createServer(serve(handler)) });
          await app.register(sessionPlugin, { signingKey: signed ? KEY : null });
          const mine = MODES.filter((m) => m.signed === signed);
          for (const mode of mine)
            app.post(pathOf(mode), { config: { agentops: { trust: mode.trust, signedUpgrade: mode.signedUpgrade === true } } }, handler);
          await app.listen({ port: 0, host: '127.0.0.1' });
          closers.push(() => app.close());
          for (const mode of mine) endpoints.set(mode.name, { port: (app.server.address() as AddressInfo).port, path: pathOf(mode) });
        }
      }
      try {
        for (const mode of MODES) {
          const { port, path } = endpoints.get(mode.name)!;
          for (const attack of attacks) {
            const res = await postLines(port, path, [
              ['traceparent', attack.traceparent],
              ['baggage', attack.baggage],
            ]);
            expect(res.status).toBe(200);
            check(`${framework} (${pre})`, mode, attack, JSON.parse(res.body) as Received);
          }
        }
        expectVictimUntouched();
      } finally {
        for (const close of closers) await close();
      }
    },
  );
});

describe('Kafka', () => {
  it('eachMessage and eachBatch: every attack in every mode', async () => {
    const topics = (await createTopics(kafka, MODES.length + 1)) as string[];
    const onwardTopic = topics.pop()!;
    const topicMode = new Map(MODES.map((m, i) => [topics[i]!, m]));
    const raw = kafka.producer();
    await raw.connect();
    const sent: Record<string, Record<string, string>> = {};
    // The instrumented producer's copies, as they go to kafkajs.
    const capture = new Proxy(raw, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return (record: Parameters<typeof raw.send>[0]) => {
          for (const m of record.messages)
            sent[String(m.value)] = Object.fromEntries(
              Object.entries(m.headers ?? {})
                .filter(([k]) => k !== 'x-user')
                .map(([k, v]) => [k, String(v)]),
            );
          return target.send(record);
        };
      },
    });
    const onward = instrumentProducer(capture, { signingKey: KEY });
    const results = new Map<string, Received>();
    const topicPolicies = Object.fromEntries(
      MODES.map((m, i) => [topics[i]!, { trust: m.trust, signingKey: m.signed ? KEY : null, signedUpgrade: m.signedUpgrade === true }]),
    );
    const handle = async (style: string, topic: string, message: KafkaMessage) => {
      const id = `${style}|${topic}|${message.value!.toString()}`;
      const session = getSessionId();
      await onward.send({ topic: onwardTopic, messages: [{ value: id, headers: { 'x-user': 'u' } }] });
      results.set(id, { session, onward: sent[id] ?? {} });
    };
    // Per pre-context: an eachMessage and an eachBatch consumer; behind a stock instrumentation's
    // extract for the unvetted one.
    const consumers = PRE_CONTEXTS.map((pre) => {
      const make = () =>
        pre === 'clean' ? kafka.consumer(fastConsumerConfig()) : behindStockKafkaExtract(kafka.consumer(fastConsumerConfig()));
      return {
        pre,
        each: instrumentConsumer(make(), { topics: topicPolicies }),
        batch: instrumentConsumer(make(), { topics: topicPolicies }),
      };
    });
    try {
      for (const { pre, each, batch } of consumers) {
        for (const c of [each, batch]) {
          await c.connect();
          await c.subscribe({ topics, fromBeginning: true });
        }
        await each.run({ eachMessage: async ({ topic, message }) => handle(`eachMessage (${pre})`, topic, message) });
        await batch.run({
          eachBatch: async ({ batch: b, withMessageContext }: InstrumentedEachBatchPayload) => {
            for (const m of b.messages) await withMessageContext(m, () => handle(`eachBatch (${pre})`, b.topic, m));
          },
        });
      }
      await raw.sendBatch({
        topicMessages: topics.map((topic) => ({
          topic,
          messages: attacks.map((a, i) => ({ value: String(i), headers: { traceparent: a.traceparent, baggage: a.baggage } })),
        })),
      });
      await waitFor('every message, both styles, both pre-contexts', () => results.size === 4 * topics.length * attacks.length, 90_000);
    } finally {
      for (const { each, batch } of consumers) for (const c of [each, batch]) await c.disconnect();
      await raw.disconnect();
    }
    for (const [id, received] of results) {
      const [style, topic, index] = id.split('|') as [string, string, string];
      check(`kafka ${style}`, topicMode.get(topic)!, attacks[Number(index)]!, received);
    }
    expectVictimUntouched();
  });
});

describe('BullMQ', () => {
  it('every attack in every mode; the onward job stores only what may go on', async () => {
    const onwardQueue = new Queue(uniqueQueueName('onward'), {
      connection: connection(),
      telemetry: sessionTelemetry({ signingKey: KEY }),
    });
    const results = new Map<string, Received>();
    const workers: Worker[] = [];
    const queues: Queue[] = [];
    try {
      for (const mode of MODES) {
        const name = uniqueQueueName(`spoof-${mode.name.replaceAll('+', '-')}`);
        const worker = new Worker(
          name,
          async (job: Job) => {
            const session = getSessionId();
            const next = await onwardQueue.add('next', {});
            const stored = next.opts.telemetry?.metadata;
            results.set(`${mode.name}|${String(job.data.i)}`, {
              session,
              onward: stored ? (JSON.parse(stored) as Record<string, string>) : {},
            });
          },
          {
            connection: connection(),
            telemetry: sessionTelemetry({
              trust: mode.trust,
              signingKey: mode.signed ? KEY : null,
              signedUpgrade: mode.signedUpgrade === true,
            }),
          },
        );
        worker.on('error', () => undefined);
        workers.push(worker);
        // Added as anyone with Redis access could: metadata written by hand.
        const queue = new Queue(name, { connection: connection() });
        queues.push(queue);
        await queue.addBulk(
          attacks.map((a, i) => ({
            name: 'job',
            data: { i },
            opts: { telemetry: { metadata: JSON.stringify({ traceparent: a.traceparent, baggage: a.baggage }) } },
          })),
        );
      }
      await waitFor('every job', () => results.size === MODES.length * attacks.length, 60_000);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      for (const q of [...queues, onwardQueue]) {
        await q.obliterate({ force: true }).catch(() => undefined);
        await q.close();
      }
    }
    for (const [id, received] of results) {
      const [modeName, index] = id.split('|') as [string, string];
      check(
        'bullmq',
        MODES.find((m) => m.name === modeName)!,
        attacks[Number(index)]!,
        received,
      );
    }
    expectVictimUntouched();
  });
});
