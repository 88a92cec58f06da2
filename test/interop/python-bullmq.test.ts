/**
 * BullMQ through a Python worker on the stock OpenTelemetry Python SDK and the Python `bullmq`
 * package (test/interop/python/bullmq_relay.py): a TypeScript queue with `sessionTelemetry()` adds
 * a job in each of several sessions at once; the Python worker runs it in the context stored with
 * the job (the job option `tm`, BullMQ's telemetry metadata) and adds the next job with the
 * context stored the same way; a TypeScript worker with `sessionTelemetry()` processes it.
 * Real Redis, BullMQ 5 (`bullmq`) and BullMQ 6 (`bullmq6`) on the TypeScript side.
 */
import { createRequire } from 'node:module';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Queue as Queue5, Worker as Worker5, type Telemetry as Telemetry5 } from 'bullmq';
import { Queue as Queue6, Worker as Worker6, type QueueOptions as QueueOptions6, type RedisOptions as RedisOptions6 } from 'bullmq6';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionTelemetry, type SessionTelemetryOptions } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { connection, uniqueQueueName } from '../bullmq/helpers.js';
import { redisUrl } from '../services/env.js';
import { PythonService, waitFor, type PythonSpan } from './python-services.js';

const t = useTracing();
const SIGNING_KEY = 'python-interop-signing-key-0123456789';
const TAMPERS = ['id', 'sig', 'reencode', 'unsigned'] as const;
type Tamper = (typeof TAMPERS)[number] | null;

/** What each job carries: the index of its session, and what the Python worker should do to the entry. */
interface JobData {
  session: number;
  message: number;
  tamper: Tamper;
}

interface AddedJob {
  id?: string | undefined;
}
interface OpenQueue {
  add(name: string, data: JobData): Promise<AddedJob>;
  obliterate(options: { force: boolean }): Promise<unknown>;
  close(): Promise<unknown>;
}
interface OpenWorker {
  close(force?: boolean): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
type Processor = (job: { id?: string | undefined; data: JobData }) => Promise<unknown>;

/** One BullMQ major on the TypeScript side. */
interface BullMQMajor {
  label: string;
  version: string;
  queue(name: string, options: SessionTelemetryOptions): OpenQueue;
  worker(name: string, processor: Processor, options: SessionTelemetryOptions): OpenWorker;
}

const requireHere = createRequire(import.meta.url);
const versionOf = (pkg: string) => (requireHere(`${pkg}/package.json`) as { version: string }).version;

const MAJORS: BullMQMajor[] = [
  {
    label: 'BullMQ 5',
    version: versionOf('bullmq'),
    queue: (name, options) => new Queue5(name, { connection: connection(), telemetry: sessionTelemetry(options) as Telemetry5 }),
    worker: (name, processor, options) => new Worker5(name, processor, { connection: connection(), telemetry: sessionTelemetry(options) }),
  },
  {
    // The adapter is typed against `bullmq` (5 here); for BullMQ 6 the object is the same at run time.
    label: 'BullMQ 6',
    version: versionOf('bullmq6'),
    queue: (name, options) =>
      new Queue6(name, {
        connection: connection() as RedisOptions6,
        telemetry: sessionTelemetry(options) as unknown as NonNullable<QueueOptions6['telemetry']>,
      }),
    worker: (name, processor, options) =>
      new Worker6(name, processor, {
        connection: connection() as RedisOptions6,
        telemetry: sessionTelemetry(options) as unknown as NonNullable<QueueOptions6['telemetry']>,
      }),
  },
];

/** Queue pairs per major and variant: the TypeScript queue the Python worker takes from, and the one it adds to. */
const queues = new Map<string, { into: string; out: string }>();
const pairFor = (major: BullMQMajor, variant: 'plain' | 'signed') => queues.get(`${major.label} ${variant}`)!;
for (const major of MAJORS) {
  for (const variant of ['plain', 'signed'] as const) {
    queues.set(`${major.label} ${variant}`, { into: uniqueQueueName('to-python'), out: uniqueQueueName('from-python') });
  }
}

let python: PythonService;
const opened: { queues: OpenQueue[]; workers: OpenWorker[] } = { queues: [], workers: [] };

beforeAll(async () => {
  python = await PythonService.start(
    'bullmq_relay.py',
    [...queues.values()].map((q) => `${q.into}=${q.out}`),
    { REDIS_URL: redisUrl() },
  );
});

afterEach(async () => {
  await Promise.all(opened.workers.splice(0).map((w) => w.close(true).catch(() => undefined)));
  await Promise.all(
    opened.queues.splice(0).map(async (q) => {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close().catch(() => undefined);
    }),
  );
});

afterAll(async () => {
  await python?.stop();
});

/** What the TypeScript worker saw of one job. */
interface Seen {
  jobId: string;
  sessionId: string | null;
  spanId: string;
}

/**
 * Adds one job per entry of `jobs(i)` in each session at once (TypeScript queue), and waits
 * until the TypeScript worker behind the Python worker processed them all.
 */
async function roundTrips(
  major: BullMQMajor,
  pair: { into: string; out: string },
  sessions: Session[],
  jobs: (i: number) => Tamper[],
  options: SessionTelemetryOptions,
): Promise<Map<string, Seen>> {
  const seen = new Map<string, Seen>();
  const worker = major.worker(
    pair.out,
    async (job) => {
      seen.set(`${job.data.session}-${job.data.message}`, {
        jobId: String(job.id),
        sessionId: getSessionId() ?? null,
        spanId: trace.getActiveSpan()!.spanContext().spanId,
      });
    },
    options,
  );
  worker.on('error', () => undefined);
  opened.workers.push(worker);
  const queue = major.queue(pair.into, options);
  opened.queues.push(queue);
  // The Python worker adds to `out`; obliterated with the others.
  opened.queues.push(major.queue(pair.out, options));
  const total = sessions.reduce((n, _, i) => n + jobs(i).length, 0);
  await Promise.all(
    sessions.map((session, i) =>
      withSession(session, async () => {
        for (const [message, tamper] of jobs(i).entries()) await queue.add('step', { session: i, message, tamper });
      }),
    ),
  );
  for (const s of sessions) s.end();
  try {
    await waitFor(`${total} jobs back from Python`, () => seen.size === total);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- stderr of the Python worker\n${python.errors}`, { cause: err });
  }
  return seen;
}

/** The finished TypeScript span with this id (the worker's span ends after the processor returns). */
function tsSpan(spanId: string): Promise<ReadableSpan> {
  return waitFor(`TypeScript span ${spanId}`, () => t.spans().find((s) => s.spanContext().spanId === spanId));
}

/** The TypeScript `add` span of one job, the Python worker's spans for it, checked against the session. */
async function expectPythonRelayed(pair: { into: string; out: string }, session: Session, outJobId: string): Promise<PythonSpan> {
  const [add] = await python.spansWhere(
    `add ${pair.out} for job ${outJobId}`,
    (s) => s.name === `add ${pair.out}` && s.attributes['messaging.message.id'] === outJobId,
    1,
  );
  const process = python.spans.filter((s) => s.name === `process ${pair.into}` && s.spanId === add!.parentSpanId);
  expect(process).toHaveLength(1);
  // The stock SDK continued the trace of the TypeScript `add` span the job was added in.
  const tsAdd = t
    .byName(`add ${pair.into}`)
    .filter((s) => s.attributes['messaging.message.id'] === process[0]!.attributes['messaging.message.id']);
  expect(tsAdd).toHaveLength(1);
  expect(tsAdd[0]!.spanContext().traceId).toBe(session.id);
  expect(process[0]).toMatchObject({ kind: 'CONSUMER', traceId: session.id, parentSpanId: tsAdd[0]!.spanContext().spanId });
  expect(process[0]!.attributes['session.id']).toBe(session.id);
  expect(add).toMatchObject({ kind: 'PRODUCER', traceId: session.id });
  return add!;
}

describe.each(MAJORS)(
  'BullMQ: TypeScript queue -> Python worker (stock OTel SDK, bullmq PyPI) -> TypeScript worker, $label ($version)',
  (major) => {
    it('five sessions at once: each job after the Python hop runs in its session, its span the child of the Python add span', async () => {
      const pair = pairFor(major, 'plain');
      const sessions = Array.from({ length: 5 }, (_, i) => startSession({ name: `python-bullmq-${i}` }));
      const seen = await roundTrips(major, pair, sessions, () => [null, null], {});
      expect(seen.size).toBe(10);
      for (const [key, job] of seen) {
        const session = sessions[Number(key.split('-')[0])]!;
        const pythonAdd = await expectPythonRelayed(pair, session, job.jobId);
        expect(job.sessionId).toBe(session.id);
        const span = await tsSpan(job.spanId);
        expect(span.name).toBe(`process ${pair.out}`);
        expect(span.spanContext().traceId).toBe(session.id);
        expect(parentSpanId(span)).toBe(pythonAdd.spanId);
        expect(span.attributes['session.id']).toBe(session.id);
        expect(span.attributes['agentops.hop.trust']).toBe('trust');
        expect(span.attributes['agentops.hop.shape']).toBe('parent');
      }
    });

    it('signed: entries passed through the Python worker verify; entries it altered are refused and the job is only linked', async () => {
      const pair = pairFor(major, 'signed');
      const sessions = Array.from({ length: TAMPERS.length }, (_, i) => startSession({ name: `python-bullmq-signed-${i}` }));
      const seen = await roundTrips(major, pair, sessions, (i) => [null, TAMPERS[i]!], { signingKey: SIGNING_KEY });
      expect(seen.size).toBe(2 * TAMPERS.length);
      for (const [key, job] of seen) {
        const [index, message] = key.split('-').map(Number) as [number, number];
        const session = sessions[index]!;
        const pythonAdd = await expectPythonRelayed(pair, session, job.jobId);
        const span = await tsSpan(job.spanId);
        if (message === 0) {
          expect(job.sessionId).toBe(session.id);
          expect(span.spanContext().traceId).toBe(session.id);
          expect(parentSpanId(span)).toBe(pythonAdd.spanId);
          expect(span.attributes['agentops.hop.trust']).toBe('trust');
          continue;
        }
        expect(job.sessionId, TAMPERS[index]!).toBeNull();
        expect(span.spanContext().traceId).not.toBe(session.id);
        expect(parentSpanId(span)).toBeUndefined();
        expect(span.attributes['session.id']).toBeUndefined();
        expect(span.attributes['agentops.hop.trust']).toBe('link');
        expect(span.attributes['agentops.hop.shape']).toBe('root');
        expect(span.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[session.id, pythonAdd.spanId]]);
      }
    });
  },
);
