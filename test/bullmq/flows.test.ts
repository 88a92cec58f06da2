// Flows three levels deep across three queues: with instrumentFlowProducer every job, with or
// without `opts`, runs in the session; the caller's flow tree is never modified.

import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FlowJob, Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { instrumentFlowProducer, sessionTelemetry } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { BullMQResources, uniqueQueueName, waitFor } from './helpers.js';

const bull = new BullMQResources();
const t = useTracing({ afterEach: () => bull.close() });

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** root (no opts) -> two mids (with / without opts) -> leaves (with / without opts). */
function threeLevelFlow(queues: { top: string; mid: string; leaf: string }, tag: string): FlowJob {
  return {
    name: `${tag}root`,
    queueName: queues.top,
    data: { level: 0 },
    children: [
      {
        name: `${tag}mid-opts`,
        queueName: queues.mid,
        data: { level: 1 },
        opts: { attempts: 1 },
        children: [
          { name: `${tag}leaf-bare`, queueName: queues.leaf, data: { level: 2 } },
          { name: `${tag}leaf-opts`, queueName: queues.leaf, data: { level: 2 }, opts: { priority: 1 } },
        ],
      },
      {
        name: `${tag}mid-bare`,
        queueName: queues.mid,
        data: { level: 1 },
        children: [{ name: `${tag}leaf-deep`, queueName: queues.leaf, data: { level: 2 } }],
      },
    ],
  };
}

const JOBS_PER_FLOW = 6;

/** Workers on the three queues recording, per job name, the session its processor ran in. */
function flowWorkers(queues: { top: string; mid: string; leaf: string }) {
  const seen = new Map<string, string | undefined>();
  const telemetry = sessionTelemetry();
  for (const queueName of Object.values(queues)) {
    bull.worker(
      queueName,
      async (job: Job) => {
        seen.set(job.name, getSessionId());
      },
      { telemetry },
    );
  }
  return seen;
}

function processSpanOf(jobName: string): ReadableSpan {
  const found = t.spans().filter((s) => s.name.startsWith('process ') && s.attributes['bullmq.job.name'] === jobName);
  expect(found, jobName).toHaveLength(1);
  return found[0]!;
}

function addNodeSpanOf(jobName: string): ReadableSpan {
  const found = t.spans().filter((s) => s.name.startsWith('addNode ') && s.attributes['bullmq.job.name'] === jobName);
  expect(found, jobName).toHaveLength(1);
  return found[0]!;
}

describe('flows', () => {
  it('without the wrapper, BullMQ leaves jobs without opts outside the session', async () => {
    const queues = { top: uniqueQueueName('top'), mid: uniqueQueueName('mid'), leaf: uniqueQueueName('leaf') };
    const producer = bull.flowProducer({ telemetry: sessionTelemetry() });
    const session = startSession();
    await withSession(session, () => producer.add(threeLevelFlow(queues, '')));
    const seen = flowWorkers(queues);
    await waitFor('the whole flow', () => seen.size === JOBS_PER_FLOW);
    session.end();
    expect(Object.fromEntries(seen)).toEqual({
      'leaf-bare': undefined,
      'leaf-opts': session.id,
      'leaf-deep': undefined,
      'mid-opts': session.id,
      'mid-bare': undefined,
      root: undefined,
    });
  });

  it('with instrumentFlowProducer, every job at every depth runs in the session, under its own addNode span', async () => {
    const queues = { top: uniqueQueueName('top'), mid: uniqueQueueName('mid'), leaf: uniqueQueueName('leaf') };
    const producer = instrumentFlowProducer(bull.flowProducer({ telemetry: sessionTelemetry() }));
    const flow = deepFreeze(threeLevelFlow(queues, ''));
    const before = structuredClone(flow);
    const session = startSession();
    const tree = await withSession(session, () => producer.add(flow));
    expect(flow).toEqual(before);
    expect(tree.job.name).toBe('root');
    const seen = flowWorkers(queues);
    await waitFor(
      'the whole flow',
      () => seen.size === JOBS_PER_FLOW && t.spans().filter((s) => s.name.startsWith('process ')).length === JOBS_PER_FLOW,
    );
    session.end();

    expect([...seen.values()]).toEqual(Array(JOBS_PER_FLOW).fill(session.id));
    const addFlow = t.one(`addFlow ${queues.top}`);
    expect(addFlow.spanContext().traceId).toBe(session.id);
    for (const jobName of seen.keys()) {
      const processed = processSpanOf(jobName);
      const added = addNodeSpanOf(jobName);
      expect(processed.spanContext().traceId).toBe(session.id);
      expect(parentSpanId(processed)).toBe(added.spanContext().spanId);
      expect(added.attributes['messaging.operation.type']).toBe('create');
      expect(processed.attributes['session.id']).toBe(session.id);
    }
    // The nodes' creation spans nest like the flow.
    expect(parentSpanId(addNodeSpanOf('root'))).toBe(addFlow.spanContext().spanId);
    expect(parentSpanId(addNodeSpanOf('leaf-deep'))).toBe(addNodeSpanOf('mid-bare').spanContext().spanId);
  });

  it('addBulk of flows: every job of every flow in the session it was added from', async () => {
    const queues = { top: uniqueQueueName('top'), mid: uniqueQueueName('mid'), leaf: uniqueQueueName('leaf') };
    const producer = instrumentFlowProducer(instrumentFlowProducer(bull.flowProducer({ telemetry: sessionTelemetry() })));
    const first = startSession();
    const second = startSession();
    await Promise.all([
      withSession(first, () => producer.addBulk([threeLevelFlow(queues, 'a-')])),
      withSession(second, () => producer.addBulk([threeLevelFlow(queues, 'b-'), threeLevelFlow(queues, 'c-')])),
    ]);
    const seen = flowWorkers(queues);
    await waitFor('all three flows', () => seen.size === 3 * JOBS_PER_FLOW);
    first.end();
    second.end();
    for (const [jobName, sessionId] of seen) expect(sessionId, jobName).toBe(jobName.startsWith('a-') ? first.id : second.id);
  });

  it('refuses what is not a FlowProducer', () => {
    expect(() => instrumentFlowProducer({} as never)).toThrow(TypeError);
  });
});
