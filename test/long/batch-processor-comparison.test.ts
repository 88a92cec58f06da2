// What the SDK's BatchSpanProcessor does under the Kafka load of test/sdk/export-queue-load.test.ts
// (20,000 messages, no-op handler, its default settings), beside init()'s queue: the figures for
// docs/setup.md. The SDK's processor counts no drops, so they are the messages whose CONSUMER span
// never reached the exporter. Asserted: our queue loses no more than the SDK's processor in the
// same run shape, and nothing with an exporter that answers at once. With a 50 ms exporter no
// export answers until kafkajs gives the event loop a turn (between fetches), so what the queue
// and its exports in flight hold (about 10,000 spans by default) must cover a fetch: whether it
// does depends on how many messages kafkajs fetched at once (docs/setup.md).

import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { describe, expect, it } from 'vitest';
import { init, SessionSpanProcessor } from '../../src/index.js';
import { registerGlobalTracing, disableGlobalTracing } from '../helpers/otel.js';
import { report } from '../helpers/report.js';
import { kafkaClient } from '../kafka/helpers.js';
import { countingExporter, kafkaLoad, type ConsumeMode } from '../sdk/load.js';

const MESSAGES = 20_000;

describe('SDK BatchSpanProcessor vs init() queue under Kafka load', () => {
  it.each([
    ['eachMessage', 0],
    ['eachMessage', 50],
    ['eachBatch', 0],
    ['eachBatch', 50],
  ] as [ConsumeMode, number][])('%s, exporter answering in %i ms', async (mode, delayMs) => {
    const sdkExporter = countingExporter(delayMs);
    const provider = new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new BatchSpanProcessor(sdkExporter)] });
    registerGlobalTracing(provider);
    await kafkaLoad(kafkaClient(), MESSAGES, mode);
    await provider.forceFlush().catch(() => undefined);
    await provider.shutdown();
    disableGlobalTracing();

    const ours = countingExporter(delayMs);
    const handle = init({ exporters: [ours] });
    await kafkaLoad(kafkaClient(), MESSAGES, mode);
    await handle.forceFlush();
    const stats = handle.stats();
    await handle.shutdown();
    report(`BatchSpanProcessor vs init queue: ${mode}, ${delayMs} ms`, {
      messages: MESSAGES,
      sdkMessagesLost: MESSAGES - sdkExporter.consumedOffsets.size,
      oursMessagesLost: MESSAGES - ours.consumedOffsets.size,
      oursDropped: stats.spansDropped,
    });
    const sdkLost = MESSAGES - sdkExporter.consumedOffsets.size;
    const oursLost = MESSAGES - ours.consumedOffsets.size;
    expect(oursLost).toBeLessThanOrEqual(sdkLost);
    if (delayMs === 0) expect(stats.spansDropped).toBe(0);
  });
});
