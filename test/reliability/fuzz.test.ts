// Hostile carriers, the quick run of the fuzzing in test/long (a million per transport in-process,
// ten thousand end to end): the same generators and checks, a few thousand cases in-process and a
// few hundred over the real transports, so that every `npm test` exercises them.

import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fuzzHttpCarrier, fuzzJobMetadataCarrier, fuzzKafkaCarrier, leakedContext, type FuzzFigures } from '../helpers/carrier-fuzz.js';
import { e2eBullmqFuzz, e2eHttpFuzz, e2eKafkaFuzz } from '../helpers/e2e-fuzz.js';
import { setupAuditedTracing, type AuditedTracing } from '../helpers/span-audit.js';
import { kafkaClient } from '../kafka/helpers.js';

const IN_PROCESS = 3_000;
const END_TO_END = 300;

let tracing: AuditedTracing;
let kafka: Kafka;
beforeAll(() => {
  tracing = setupAuditedTracing();
  kafka = kafkaClient();
});
beforeEach(() => tracing.reset());
afterAll(() => tracing.shutdown());

function expectSound(figures: FuzzFigures & { problems?: string[] }, cases: number): void {
  expect(figures.problems ?? []).toEqual([]);
  expect(figures.cases).toBe(cases);
  expect(figures.traceparentsSent).toBe(figures.hops);
  expect(figures.sessionsAccepted).toBeGreaterThan(0);
  expect(tracing.audit.problems).toEqual([]);
  expect(tracing.open()).toBe(0);
  expect(leakedContext()).toEqual([]);
}

const seed = () => Math.floor(Math.random() * 2 ** 30);

describe(`${IN_PROCESS.toLocaleString('en')} hostile carriers per transport, in-process`, () => {
  it('Kafka headers', async () => expectSound(await fuzzKafkaCarrier(IN_PROCESS, seed()), IN_PROCESS));
  it('HTTP headers', async () => expectSound(await fuzzHttpCarrier(IN_PROCESS, seed()), IN_PROCESS));
  it('BullMQ job metadata', async () => expectSound(await fuzzJobMetadataCarrier(IN_PROCESS, seed()), IN_PROCESS));
});

describe(`${END_TO_END} hostile cases per transport, end to end`, () => {
  it.each(['express', 'fastify'] as const)('HTTP requests to %s', async (framework) => {
    const s = seed();
    const figures = await e2eHttpFuzz(framework, END_TO_END, s);
    expect(figures.problems, `seed ${s}`).toEqual([]);
    expect(figures.hops).toBe(END_TO_END);
  });

  it('Kafka messages', async () => {
    const s = seed();
    const figures = await e2eKafkaFuzz(kafka, END_TO_END, s);
    expect(figures.problems, `seed ${s}`).toEqual([]);
    expect(figures.hops).toBe(END_TO_END);
  });

  it('BullMQ jobs', async () => {
    const s = seed();
    const figures = await e2eBullmqFuzz(END_TO_END, s);
    expect(figures.problems, `seed ${s}`).toEqual([]);
    expect(figures.hops).toBe(END_TO_END);
  });
});
