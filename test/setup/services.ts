// Global setup of the `integration` vitest project: makes sure a Kafka broker and a Redis answer
// before any test file runs, starting local ones (scripts/kafka.mjs, scripts/redis.mjs) only when
// nothing answers at KAFKA_BROKERS / REDIS_URL, and stopping in teardown only what it started.
//
// Tests read the addresses from process.env.KAFKA_BROKERS / process.env.REDIS_URL (helpers in
// test/services/env.ts). Setting them here is enough: vitest 4 builds each worker's environment
// from the main process's process.env when it spawns the worker, which happens after global setup.

import { ensureKafka, type KafkaHandle } from '../../scripts/kafka.mjs';
import { ensureRedis, redactRedisUrl, type RedisHandle } from '../../scripts/redis.mjs';

const log = (message: string) => console.log(`[services] ${message}`);

async function timed<T extends { started: boolean }>(name: string, address: (r: T) => string, start: Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await start;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  log(
    result.started
      ? `${name}: started at ${address(result)} in ${seconds}s`
      : `${name}: using the one already answering at ${address(result)} (checked in ${seconds}s)`,
  );
  return result;
}

export default async function setup(): Promise<() => Promise<void>> {
  // In parallel: a cold Kafka start (Maven download + JVM) dwarfs Redis, no reason to serialise.
  const [kafka, redis] = await Promise.allSettled([
    timed<KafkaHandle>('kafka', (k) => k.brokers.join(','), ensureKafka()),
    timed<RedisHandle>('redis', (r) => redactRedisUrl(r.url), ensureRedis()),
  ]);

  if (kafka.status === 'rejected' || redis.status === 'rejected') {
    // Do not leave the half that did come up running behind a failed run.
    await Promise.all([kafka, redis].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    const reasons = [kafka, redis].flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    throw new Error(`integration services are not available:\n${reasons.join('\n')}`);
  }

  process.env.KAFKA_BROKERS = kafka.value.brokers.join(',');
  process.env.REDIS_URL = redis.value.url;

  return async () => {
    const started = [kafka.value, redis.value].filter((s) => s.started);
    if (started.length === 0) return;
    const t0 = performance.now();
    await Promise.all(started.map((s) => s.stop()));
    log(`stopped what this run started in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
