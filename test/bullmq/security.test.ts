// Signed, forged and corrupted job metadata against the real Redis: a forged or broken entry is
// dropped with a diag log and the job still runs, outside the session it claimed.

import { trace } from '@opentelemetry/api';
import type { Job } from 'bullmq';
import { beforeEach, describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { createKeyring, getSessionId, startSession, withSession } from '../../src/index.js';
import { sharedState } from '../../src/base/state.js';
import { useTracing } from '../helpers/otel.js';
import { BullMQResources, captureDiag, processSpans, uniqueQueueName, waitFor, type DiagCapture } from './helpers.js';

const KEY = 'bullmq-test-signing-key-0123456789';

let diagLog: DiagCapture;
const bull = new BullMQResources();
const t = useTracing({
  afterEach: async () => {
    await bull.close();
    diagLog.stop();
  },
});
beforeEach(() => {
  diagLog = captureDiag();
});

interface Outcome {
  jobId: string | undefined;
  sessionId: string | undefined;
  traceId: string | undefined;
}

/** Processes the queue with `telemetry` and resolves with what the processor saw for `count` jobs. */
async function processAll(queueName: string, count: number, telemetry = sessionTelemetry({ signingKey: KEY })): Promise<Outcome[]> {
  const seen: Outcome[] = [];
  bull.worker(
    queueName,
    async (job: Job) => {
      seen.push({ jobId: job.id, sessionId: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
      return 'done';
    },
    { telemetry },
  );
  await waitFor(`${count} jobs`, () => seen.length === count && processSpans(t.spans(), queueName).length === count);
  return seen;
}

/** Rewrites a stored job's telemetry metadata directly in Redis, as someone with Redis access could. */
async function rewriteStoredMetadata(queueName: string, jobId: string, rewrite: (metadata: string) => string): Promise<void> {
  const redis = bull.redis();
  const key = `bull:${queueName}:${jobId}`;
  const opts = JSON.parse((await redis.hget(key, 'opts'))!) as { tm: string };
  opts.tm = rewrite(opts.tm);
  await redis.hset(key, 'opts', JSON.stringify(opts));
}

describe('signed entries', () => {
  it('a producer signs and a worker with the same key joins the session', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    const job = await withSession(session, () => bull.queue(name, { telemetry: sessionTelemetry({ signingKey: KEY }) }).add('signed', {}));
    expect(JSON.parse(job.opts.telemetry!.metadata!).baggage).toMatch(/,agentops\.session\.sig=v1\.k0\.\d+\.[A-Za-z0-9_-]{43}$/);
    const [seen] = await processAll(name, 1);
    session.end();
    expect(seen).toEqual({ jobId: job.id, sessionId: session.id, traceId: session.id });
    expect(processSpans(t.spans(), name)[0]!.attributes['agentops.hop.trust']).toBe('trust');
    expect(diagLog.matching('refused')).toEqual([]);
  });

  it("a queue's own key signs and verifies that queue's jobs", async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry({ signingKey: null, queues: { [name]: { signingKey: KEY } } });
    const session = startSession();
    const job = await withSession(session, () => bull.queue(name, { telemetry }).add('signed', {}));
    expect(job.opts.telemetry!.metadata).toContain('agentops.session.sig=v1.');
    const [seen] = await processAll(name, 1, telemetry);
    session.end();
    expect(seen!.sessionId).toBe(session.id);
  });

  it("without a signingKey option, init's key signs and verifies", async () => {
    // What init({ signingKey }) leaves behind, without init's own provider (the harness has one).
    sharedState().signing = createKeyring(KEY);
    try {
      const name = uniqueQueueName();
      const session = startSession();
      const job = await withSession(session, () => bull.queue(name, { telemetry: sessionTelemetry() }).add('signed', {}));
      expect(job.opts.telemetry!.metadata).toContain('agentops.session.sig=v1.');
      const forged = await bull
        .queue(name)
        .add(
          'forged',
          {},
          { telemetry: { metadata: job.opts.telemetry!.metadata!.replace(/sig=v1\.k0\.\d+\./, 'sig=v1.k0.9999999999.') } },
        );
      const seen = await processAll(name, 2, sessionTelemetry());
      session.end();
      expect(seen.find((s) => s.jobId === job.id)!.sessionId).toBe(session.id);
      expect(seen.find((s) => s.jobId === forged.id)!.sessionId).toBeUndefined();
      expect(diagLog.matching('inbound session entry refused: forged')).toHaveLength(1);
    } finally {
      sharedState().signing = undefined;
    }
  });

  it('an unsigned entry is refused by a worker that requires signatures; the job runs, only linked', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry: sessionTelemetry({ signingKey: null }) }).add('unsigned', {}));
    const [seen] = await processAll(name, 1);
    session.end();
    expect(seen!.sessionId).toBeUndefined();
    expect(seen!.traceId).not.toBe(session.id);
    const span = processSpans(t.spans(), name)[0]!;
    expect(span.attributes['agentops.hop.trust']).toBe('link');
    expect(span.links).toHaveLength(1);
    expect(diagLog.matching('inbound session entry refused: unsigned')).toHaveLength(1);
  });
});

describe('forged entries', () => {
  it('a signed entry edited in Redis to claim another session is refused', async () => {
    const name = uniqueQueueName();
    const victim = startSession({ name: 'victim' });
    const attacker = startSession({ name: 'attacker' });
    const job = await withSession(attacker, () => bull.queue(name, { telemetry: sessionTelemetry({ signingKey: KEY }) }).add('forged', {}));
    await rewriteStoredMetadata(name, job.id!, (metadata) =>
      metadata.replaceAll(attacker.id, victim.id).replace(attacker.rootSpanId, victim.rootSpanId),
    );
    const [seen] = await processAll(name, 1);
    victim.end();
    attacker.end();
    expect(seen!.jobId).toBe(job.id);
    expect(seen!.sessionId).toBeUndefined();
    expect([victim.id, attacker.id]).not.toContain(seen!.traceId);
    expect(diagLog.matching('inbound session entry refused: forged')).toHaveLength(1);
  });

  it('a crafted metadata string added by a plain producer is refused', async () => {
    const name = uniqueQueueName();
    const victim = startSession();
    const crafted = JSON.stringify({
      traceparent: `00-${victim.id}-${victim.rootSpanId}-01`,
      baggage: `agentops.session.id=${victim.id};root=${victim.rootSpanId};flags=03;sig=v1.k0.9999999999.${'A'.repeat(43)}`,
    });
    const job = await bull.queue(name).add('crafted', {}, { telemetry: { metadata: crafted } });
    const [seen] = await processAll(name, 1);
    victim.end();
    expect(seen!.jobId).toBe(job.id);
    expect(seen!.sessionId).toBeUndefined();
    expect(seen!.traceId).not.toBe(victim.id);
    expect(diagLog.matching('inbound session entry refused: forged')).toHaveLength(1);
  });

  it("without signatures, a 'link' queue keeps a crafted entry out of the session", async () => {
    const name = uniqueQueueName();
    const victim = startSession();
    const crafted = JSON.stringify({
      traceparent: `00-${victim.id}-${victim.rootSpanId}-01`,
      baggage: `agentops.session.id=${victim.id};root=${victim.rootSpanId}`,
    });
    await bull.queue(name).add('crafted', {}, { telemetry: { metadata: crafted } });
    const [seen] = await processAll(name, 1, sessionTelemetry({ signingKey: null, queues: { [name]: { trust: 'link' } } }));
    victim.end();
    expect(seen!.sessionId).toBeUndefined();
    expect(seen!.traceId).not.toBe(victim.id);
  });
});

describe('corrupted metadata', () => {
  const cases: Array<[string, unknown, string]> = [
    ['not JSON', '{"traceparent": "00-', 'not JSON'],
    ['a 1 MB string', JSON.stringify({ baggage: `a=${'b'.repeat(1024 * 1024)}` }), 'dropped unparsed'],
    ['wrong field types', JSON.stringify({ traceparent: 42, baggage: { 'agentops.session.id': 'x' } }), 'job metadata field'],
    ['a JSON array', JSON.stringify(['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']), 'JSON array'],
    ['a number', 12345, 'expected a JSON string'],
  ];

  it.each(cases)('%s: the job runs in a trace of its own and the metadata is dropped with a diag log', async (_what, metadata, logged) => {
    const name = uniqueQueueName();
    const job = await bull.queue(name).add('corrupted', { keep: 'me' }, { telemetry: { metadata: metadata as string } });
    const seen: unknown[] = [];
    const worker = bull.worker(
      name,
      async (j: Job) => {
        seen.push({ data: j.data, sessionId: getSessionId() });
        return 'done';
      },
      { telemetry: sessionTelemetry() },
    );
    const completed = new Promise<string>((resolve) => worker.on('completed', (j) => resolve(j.id!)));
    expect(await completed).toBe(job.id);
    await waitFor('the process span', () => processSpans(t.spans(), name).length === 1);
    expect(seen).toEqual([{ data: { keep: 'me' }, sessionId: undefined }]);
    const span = processSpans(t.spans(), name)[0]!;
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links).toHaveLength(0);
    expect(diagLog.matching(logged).length).toBeGreaterThanOrEqual(1);
  });
});
