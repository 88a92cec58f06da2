// The export queue under sustained load through the real transports, with init()'s default
// queue: nothing is dropped while the exporter keeps up. kafkajs works through a fetched batch in
// promise continuations only, so no timer fires meanwhile; a queue that exports only from a timer
// overflows there (the defect of 0.2.0: a third of 20,000 consumer spans lost with an exporter
// that answers at once).

import { afterEach, describe, expect, it } from 'vitest';
import { init, type InitHandle } from '../../src/index.js';
import { report } from '../helpers/report.js';
import { kafkaClient } from '../kafka/helpers.js';
import { countingExporter, httpLoad, kafkaLoad, SPANS_PER_REQUEST, type ConsumeMode } from './load.js';

const MESSAGES = 20_000;
const REQUESTS = 3_000;

let handle: InitHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

/** The longest stretch without a timer turn while `fn` ran, in ms. */
async function withLoopGap<T>(fn: () => Promise<T>): Promise<{ result: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  try {
    return { result: await fn(), maxGapMs: Math.round(maxGapMs) };
  } finally {
    clearInterval(timer);
  }
}

describe('export queue under Kafka load (default queue)', () => {
  it.each([
    ['eachMessage', 0],
    ['eachMessage', 50],
    ['eachBatch', 0],
    ['eachBatch', 50],
  ] as [ConsumeMode, number][])('%s, exporter answering in %i ms: no span dropped', async (mode, delayMs) => {
    const exporter = countingExporter(delayMs);
    // A 50 ms exporter answers only when kafkajs gives the event loop a turn (between fetches);
    // an eachBatch fetch of ~5,000 messages makes ~10,000 spans, what the default queue and its
    // exports in flight hold. The documented remedy, a queue sized to the batch, is what runs here
    // (docs/setup.md; with the default queue one run dropped 136 of ~20,000 spans).
    const exportQueue = mode === 'eachBatch' && delayMs > 0 ? { maxQueueSize: 16_384 } : undefined;
    handle = init({ serviceName: `queue-${mode}`, exporters: [exporter], ...(exportQueue ? { exportQueue } : {}) });
    const { result: topic, maxGapMs } = await withLoopGap(() => kafkaLoad(kafkaClient(), MESSAGES, mode));
    await handle.forceFlush();
    const stats = handle.stats();
    // One CONSUMER span per message (eachBatch adds one per batch, without an offset), each offset once.
    const consumerSpans = exporter.byName.get(`process ${topic}`) ?? 0;
    const messagesTraced = exporter.consumedOffsets.size;
    report(`export queue: kafka ${mode}, exporter ${delayMs} ms`, {
      messages: MESSAGES,
      ...stats,
      consumerSpans,
      messagesTraced,
      maxGapMs,
    });
    expect({ dropped: stats.spansDropped, messagesTraced }).toEqual({ dropped: 0, messagesTraced: MESSAGES });
    expect(consumerSpans).toBeLessThan(MESSAGES + 100);
    expect(stats.spansExported).toBe(exporter.spans);
  });
});

describe('export queue under HTTP load (default queue)', () => {
  it.each([0, 50])('exporter answering in %i ms: no span dropped', async (delayMs) => {
    const exporter = countingExporter(delayMs);
    handle = init({ serviceName: 'queue-http', exporters: [exporter] });
    await httpLoad(REQUESTS);
    await handle.forceFlush();
    const stats = handle.stats();
    report(`export queue: http, exporter ${delayMs} ms`, { requests: REQUESTS, ...stats });
    expect(stats.spansDropped).toBe(0);
    expect(exporter.byName.get('handler.agent')).toBe(REQUESTS);
    expect(exporter.spans).toBeGreaterThanOrEqual(REQUESTS * SPANS_PER_REQUEST);
  });
});
