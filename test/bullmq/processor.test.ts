// withJobContext: for workers the telemetry option does not reach (no sessionTelemetry, or a
// sandboxed processor in a child process), and harmless inside a worker that has it.

import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { ATTEMPT_ATTRIBUTE, sessionTelemetry, withJobContext } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { BullMQResources, processSpans, uniqueQueueName, waitFor } from './helpers.js';

const bull = new BullMQResources();
const t = useTracing({ afterEach: () => bull.close() });

interface Seen {
  sessionId: string | undefined;
  traceId: string | undefined;
}

describe('withJobContext in a worker without sessionTelemetry', () => {
  it('runs the processor in the session, under a CONSUMER span that continues the producer span', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    const job = await withSession(session, () => bull.queue(name, { telemetry: sessionTelemetry() }).add('wrapped', {}));
    const seen: Seen[] = [];
    bull.worker(
      name,
      withJobContext(async (_job: Job) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push({ sessionId: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
      }),
    );
    await waitFor('the job', () => processSpans(t.spans(), name).length === 1);
    session.end();
    expect(seen).toEqual([{ sessionId: session.id, traceId: session.id }]);
    const span = processSpans(t.spans(), name)[0]!;
    expect(parentSpanId(span)).toBe(t.one(`add ${name}`).spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': name,
      'messaging.message.id': job.id,
      [ATTEMPT_ATTRIBUTE]: 1,
      'session.id': session.id,
    });
  });

  it('numbers retries, records failures and rethrows the processor error unchanged', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    await withSession(session, () =>
      bull.queue(name, { telemetry: sessionTelemetry() }).add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 50 } }),
    );
    const errors: Error[] = [];
    const boom = new RangeError('not yet');
    const worker = bull.worker(
      name,
      withJobContext(async (job: Job) => {
        if (job.attemptsMade < 2) throw boom;
        return getSessionId();
      }),
    );
    worker.on('failed', (_job, err) => errors.push(err));
    const completed = new Promise<unknown>((resolve) => worker.on('completed', (_job, result) => resolve(result)));
    expect(await completed).toBe(session.id);
    await waitFor('three spans', () => processSpans(t.spans(), name).length === 3);
    session.end();
    expect(errors).toEqual([boom, boom]);
    const spans = processSpans(t.spans(), name);
    expect(spans.map((s) => s.attributes[ATTEMPT_ATTRIBUTE])).toEqual([1, 2, 3]);
    expect(spans.map((s) => s.status.code)).toEqual([2, 2, 0]);
    expect(spans.every((s) => s.spanContext().traceId === session.id)).toBe(true);
  });

  it("keeps the processor's arity, so that BullMQ still hands it an AbortSignal", async () => {
    const name = uniqueQueueName();
    const signals: unknown[] = [];
    const processor = withJobContext(async (_job: Job, _token?: string, signal?: AbortSignal) => {
      signals.push(signal);
    });
    expect(processor.length).toBe(3);
    bull.worker(name, processor);
    await bull.queue(name).add('x', {});
    await waitFor('the job', () => signals.length === 1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
  });
});

describe('withJobContext in a worker with sessionTelemetry', () => {
  it('adds nothing: one process span, the processor in the session', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry }).add('both', {}));
    const seen: Seen[] = [];
    bull.worker(
      name,
      withJobContext(async () => {
        seen.push({ sessionId: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
      }),
      { telemetry },
    );
    await waitFor('the job', () => seen.length === 1 && processSpans(t.spans(), name).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    session.end();
    expect(seen).toEqual([{ sessionId: session.id, traceId: session.id }]);
    expect(processSpans(t.spans(), name)).toHaveLength(1);
  });
});

describe('withJobContext in a sandboxed processor', () => {
  it('the child process runs the job in the session, under a span continuing the producer span', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    const job = await withSession(session, () => bull.queue(name, { telemetry: sessionTelemetry() }).add('sandboxed', {}));
    const processorFile = fileURLToPath(new URL('./fixtures/sandboxed-processor.ts', import.meta.url));
    const worker = bull.worker(name, processorFile, { workerForkOptions: { execArgv: ['--import', 'tsx'] } });
    const result = await new Promise<unknown>((resolve, reject) => {
      worker.on('completed', (_job, value) => resolve(value));
      worker.on('failed', (_job, err) => reject(err));
    });
    session.end();
    expect(result).toEqual({
      jobId: job.id,
      sessionId: session.id,
      traceId: session.id,
      parentSpanId: t.one(`add ${name}`).spanContext().spanId,
      spanName: `process ${name}`,
      attempt: 1,
    });
  });
});

describe('withJobContext on its own', () => {
  it('is given a function, or throws a TypeError', () => {
    expect(() => withJobContext('not a function' as never)).toThrow(TypeError);
    expect(() => withJobContext(async () => undefined, { trust: 'nope' as never })).toThrow(TypeError);
  });

  it('runs the processor even for a job it cannot read', async () => {
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    );
    const processor = withJobContext(async () => 'ran');
    expect(await processor(hostile as never)).toBe('ran');
  });
});
