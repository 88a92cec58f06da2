// A flush with one deadline: whatever the collector or exporter does (refuse connections, accept
// and never answer, never call back, throw), `forceFlush()` and `shutdown()` resolve within the
// export timeout (the one timed assertion of the suite: deadline + a fixed slack), never reject,
// and `stats()` accounts for every span: exported + dropped = ended, nothing left queued after
// shutdown.

import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { init, startSession, withSession, type InitHandle } from '../../src/index.js';
import { refusingCollector, silentCollector } from '../helpers/dead-collector.js';
import { report } from '../helpers/report.js';

/** Fixed allowance over the deadline for timers and a loaded 2-core machine. */
const SLACK_MS = 3_000;
const SPANS = 4_096;

let handle: InitHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

const neverAnswers: SpanExporter = { export: () => undefined, shutdown: () => new Promise<void>(() => undefined) };
const throws: SpanExporter = {
  export: () => {
    throw new Error('exporter bug');
  },
  shutdown: () => Promise.reject(new Error('shutdown bug')),
  forceFlush: () => Promise.reject(new Error('flush bug')),
};

/** Ends `SPANS` spans in one session (the session span included). */
function makeSpans(): void {
  const session = startSession({ name: 'flush' });
  withSession(session, () => {
    for (let i = 1; i < SPANS; i++) startSession({ name: `s${i}` }).end();
  });
  session.end();
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await fn();
  return Date.now() - started;
}

type Case = [what: string, timeoutMs: number | undefined, setup: () => Promise<{ options: object; close(): Promise<void> }>];

const cases: Case[] = [
  [
    'collector refuses connections, default timeout',
    undefined,
    async () => refusingCollector().then((c) => ({ options: { otlpEndpoint: c.url }, close: c.close })),
  ],
  [
    'collector never answers, default timeout',
    undefined,
    async () => silentCollector().then((c) => ({ options: { otlpEndpoint: c.url }, close: c.close })),
  ],
  [
    'collector refuses connections, 2 s',
    2_000,
    async () => refusingCollector().then((c) => ({ options: { otlpEndpoint: c.url }, close: c.close })),
  ],
  [
    'collector never answers, 2 s',
    2_000,
    async () => silentCollector().then((c) => ({ options: { otlpEndpoint: c.url }, close: c.close })),
  ],
  ['exporter never calls back, 2 s', 2_000, async () => ({ options: { exporters: [neverAnswers] }, close: async () => undefined })],
  ['exporter throws and rejects, 2 s', 2_000, async () => ({ options: { exporters: [throws] }, close: async () => undefined })],
];

describe('forceFlush and shutdown resolve within the export timeout, whatever the exporter does', () => {
  it.each(cases)('%s', async (what, timeoutMs, setup) => {
    const deadline = timeoutMs ?? 10_000;
    const target = await setup();
    try {
      handle = init({
        serviceName: 'flush-deadline',
        ...target.options,
        exportQueue: { maxQueueSize: SPANS, ...(timeoutMs !== undefined ? { exportTimeoutMillis: timeoutMs } : {}) },
      });
      makeSpans();
      const flushMs = await timed(() => handle!.forceFlush());
      const afterFlush = handle.stats();
      makeSpans();
      const shutdownMs = await timed(() => handle!.shutdown());
      const stats = handle.stats();
      handle = undefined;
      report(`flush deadline: ${what}`, { spans: 2 * SPANS, deadlineMs: deadline, flushMs, shutdownMs, ...stats });
      expect(flushMs).toBeLessThan(deadline + SLACK_MS);
      expect(shutdownMs).toBeLessThan(deadline + SLACK_MS);
      expect(afterFlush.spansExported).toBe(0);
      expect(stats).toMatchObject({ spansExported: 0, spansQueued: 0, spansDropped: 2 * SPANS });
    } finally {
      await target.close();
    }
  });
});
