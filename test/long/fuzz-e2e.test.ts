// Hostile propagation input end to end over the real transports: 10,000 generated cases per
// transport (HTTP on Express and on Fastify, Kafka through eachMessage and eachBatch, BullMQ
// jobs), each checked on arrival and onward (test/helpers/e2e-fuzz.ts).

import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eBullmqFuzz, e2eHttpFuzz, e2eKafkaFuzz, type E2eFigures } from '../helpers/e2e-fuzz.js';
import { report } from '../helpers/report.js';
import { setupAuditedTracing, type AuditedTracing } from '../helpers/span-audit.js';
import { kafkaClient } from '../kafka/helpers.js';

const CASES = Number(process.env.E2E_CASES ?? 10_000);

let tracing: AuditedTracing;
let kafka: Kafka;
beforeAll(() => {
  tracing = setupAuditedTracing();
  kafka = kafkaClient();
});
afterAll(() => tracing.shutdown());

function expectClean(figures: E2eFigures, name: string, seed: number): void {
  expect(figures.problems, `seed ${seed}`).toEqual([]);
  expect(figures.cases).toBe(CASES);
  expect(figures.hops).toBe(CASES);
  expect(figures.traceparentsSent).toBe(CASES);
  expect(figures.sessionsAccepted, 'sessions accepted').toBeGreaterThan(CASES / 50);
  expect(tracing.audit.problems).toEqual([]);
  report(`fuzz e2e ${name}`, { cases: figures.cases, sessionsAccepted: figures.sessionsAccepted, seed });
}

describe(`${CASES.toLocaleString('en')} hostile cases per transport, end to end`, () => {
  it.each(['express', 'fastify'] as const)('HTTP requests to %s', async (framework) => {
    const seed = Math.floor(Math.random() * 2 ** 30);
    expectClean(await e2eHttpFuzz(framework, CASES, seed), `http ${framework}`, seed);
  });

  it('Kafka messages through eachMessage and eachBatch', async () => {
    const seed = Math.floor(Math.random() * 2 ** 30);
    expectClean(await e2eKafkaFuzz(kafka, CASES, seed), 'kafka', seed);
  });

  it('BullMQ jobs', async () => {
    const seed = Math.floor(Math.random() * 2 ** 30);
    expectClean(await e2eBullmqFuzz(CASES, seed), 'bullmq', seed);
  });
});
