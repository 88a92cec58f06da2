// Sampling keeps sessions whole. Hundreds of sessions go through HTTP -> Kafka eachMessage ->
// Kafka eachBatch + withMessageContext -> BullMQ -> HTTP, and each then adds a BullMQ flow
// (parent and child job) and a scheduled run, with init({ sampler }) at parentbased_traceidratio 0.25. Every session
// must be exported whole (all of its spans) or not at all, and the kept share must lie within
// 4.5 standard deviations of 0.25 (binomial, n sessions: a false failure about once in 150,000
// runs). Then the same with one service sampling at another ratio: under parent-based sampling
// only the root (the service that starts the session) decides, so nothing changes; with a
// non-parent-based ratio in that service, sessions break, and the test shows how.

import { context, SpanKind, type Context, type Link, type Attributes } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentFlowProducer, sessionTelemetry } from '../../adapters/bullmq/index.js';
import { init, withSession, type InitHandle } from '../../src/index.js';
import { connection, uniqueQueueName, waitFor } from '../bullmq/helpers.js';
import { report } from '../helpers/report.js';
import { expectedSessionSpans, runSessionPipeline, type PipelineRun } from '../helpers/session-pipeline.js';
import { kafkaClient } from '../kafka/helpers.js';

const SESSIONS = 400;
const RATIO = 0.25;
/** Flow spans per session: add of the flow (parent + child nodes) and both jobs processed. */
const FLOW_QUEUE_PREFIX = 'sampling-flow';

let handle: InitHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

/** Routes by span name: spans of the BullMQ worker and the callback service use `other`. */
class PerServiceSampler implements Sampler {
  constructor(
    private readonly main: Sampler,
    private readonly other: Sampler,
    private readonly isOther: (name: string) => boolean,
  ) {}
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    return (this.isOther(name) ? this.other : this.main).shouldSample(ctx, traceId, name, kind, attributes, links);
  }
  toString(): string {
    return 'PerServiceSampler';
  }
}

/**
 * Adds, in each session, one flow (a parent job with one child) and one scheduled run (a
 * repeatable job limited to one run, which rejoins the session it was created in), and waits
 * until all three jobs ran.
 */
async function flows(run: PipelineRun): Promise<string> {
  const queue = uniqueQueueName(FLOW_QUEUE_PREFIX);
  const telemetry = sessionTelemetry();
  let done = 0;
  const worker = new Worker(queue, async () => void done++, { connection: connection(), telemetry, concurrency: 50 });
  worker.on('error', () => undefined);
  const producer = instrumentFlowProducer(new FlowProducer({ connection: connection(), telemetry }));
  const scheduler = new Queue(queue, { connection: connection(), telemetry });
  try {
    for (const [i, session] of run.sessions.entries()) {
      await context.with(context.active(), () =>
        withSession(session, async () => {
          await producer.add({ name: 'parent', queueName: queue, children: [{ name: 'child', queueName: queue }] });
          await scheduler.add('scheduled', {}, { repeat: { every: 100, limit: 1, key: `run-${i}` } });
        }),
      );
    }
    await waitFor('flows and scheduled runs', () => done >= 3 * run.sessions.length, 180_000);
  } finally {
    await worker.close();
    await producer.close();
    await scheduler.obliterate({ force: true }).catch(() => undefined);
    await scheduler.close();
  }
  return queue;
}

/** Per session: how many of its spans were exported; whole = every expected pipeline span and the flow's. */
function wholeness(run: PipelineRun, spans: ReadableSpan[]) {
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const id = span.spanContext().traceId;
    byTrace.set(id, [...(byTrace.get(id) ?? []), span]);
  }
  const counts = run.sessions.map((s, i) => {
    const got = byTrace.get(s.id) ?? [];
    const pipeline = expectedSessionSpans(run, `agent-${i}`).map((e) => e.name);
    const missing = pipeline.filter((name) => !got.some((g) => g.name === name));
    return { got: got.length, missingPipeline: missing.length, total: pipeline.length };
  });
  const full = Math.max(...counts.map((c) => c.got));
  const kept = counts.filter((c) => c.got > 0);
  const partial = kept.filter((c) => c.got !== full || c.missingPipeline > 0);
  return { kept: kept.length, partial: partial.length, spansPerKeptSession: full };
}

function bound(n: number): [number, number] {
  const sd = Math.sqrt((RATIO * (1 - RATIO)) / n);
  return [RATIO - 4.5 * sd, RATIO + 4.5 * sd];
}

async function sampledRun(sampler: Sampler) {
  const exporter = new InMemorySpanExporter();
  handle = init({ serviceName: 'sampling', sampler, exporters: [exporter], exportQueue: { maxQueueSize: 100_000 } });
  const run = await runSessionPipeline({ kafka: kafkaClient(), sessions: SESSIONS, spans: () => exporter.getFinishedSpans() });
  await flows(run);
  await handle.forceFlush();
  const result = { ...wholeness(run, exporter.getFinishedSpans()), dropped: handle.stats().spansDropped };
  return { run, result };
}

const ratio = (r: number) => new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(r) });
const otherService = (name: string) => name.startsWith('process bull') || name.includes('/done') || name.startsWith('complete');

describe('sampling keeps sessions whole across HTTP, Kafka and BullMQ (incl. flows and scheduled runs)', () => {
  it(`parentbased_traceidratio ${RATIO}: each of ${SESSIONS} sessions whole or absent, kept share within 4.5 sd`, async () => {
    const { result } = await sampledRun(ratio(RATIO));
    const share = result.kept / SESSIONS;
    report('sampling: parentbased_traceidratio 0.25', { sessions: SESSIONS, ...result, share, bound: bound(SESSIONS) });
    expect(result.dropped).toBe(0);
    expect(result.partial).toBe(0);
    expect(share).toBeGreaterThan(bound(SESSIONS)[0]);
    expect(share).toBeLessThan(bound(SESSIONS)[1]);
  });

  it('one service at parentbased 0.75: still whole, the root decides', async () => {
    const { result } = await sampledRun(new PerServiceSampler(ratio(RATIO), ratio(0.75), otherService));
    const share = result.kept / SESSIONS;
    report('sampling: one service at parentbased 0.75', { sessions: SESSIONS, ...result, share });
    expect(result.partial).toBe(0);
    expect(share).toBeGreaterThan(bound(SESSIONS)[0]);
    expect(share).toBeLessThan(bound(SESSIONS)[1]);
  });

  it('one service at plain traceidratio 0.75 (not parent-based): sessions break into fragments', async () => {
    const { result } = await sampledRun(new PerServiceSampler(ratio(RATIO), new TraceIdRatioBasedSampler(0.75), otherService));
    report('sampling: one service at plain traceidratio 0.75', { sessions: SESSIONS, ...result, share: result.kept / SESSIONS });
    // It keeps its own spans of sessions the root dropped: fragments without a root.
    expect(result.partial).toBeGreaterThan(0);
  });
});
