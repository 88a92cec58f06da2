import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type ConsumerConfig, type LogEntry, type Producer } from 'kafkajs';
import { kafkaBrokers } from '../services/env.js';

/** Every test gets its own topics and groups: runs never see each other's messages. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** kafkajs log entries at ERROR, kept for assertions (kafkajs logs handler errors it retries). */
export const kafkaErrors: LogEntry[] = [];

/** A kafkajs client on the test broker, quiet except for errors, which are recorded. */
export function kafkaClient(kafkaModule: { Kafka: typeof Kafka } = { Kafka }): Kafka {
  return new kafkaModule.Kafka({
    clientId: uniqueName('agentops-test'),
    brokers: kafkaBrokers(),
    logLevel: logLevel.ERROR,
    logCreator: () => (entry) => {
      kafkaErrors.push(entry);
    },
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** Creates fresh topics and waits until each has a leader. */
export async function createTopics(kafka: Kafka, count = 1, numPartitions = 1): Promise<string[]> {
  const topics = Array.from({ length: count }, () => uniqueName('topic'));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })) });
  } finally {
    await admin.disconnect();
  }
  return topics;
}

/** Consumer settings that join and fetch quickly on a one-broker cluster. */
export function fastConsumerConfig(groupId = uniqueName('group')): ConsumerConfig {
  return {
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    rebalanceTimeout: 6000,
    maxWaitTimeInMs: 100,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
  };
}

/** Polls `probe` until it returns something truthy; fails with `what` after the deadline. */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, deadlineMs = 60_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Connects a producer, runs `fn`, disconnects. */
export async function withProducer<P extends Pick<Producer, 'connect' | 'disconnect'>, T>(
  producer: P,
  fn: (producer: P) => Promise<T>,
): Promise<T> {
  await producer.connect();
  try {
    return await fn(producer);
  } finally {
    await producer.disconnect();
  }
}

type RunnableConsumer = Pick<Consumer, 'connect' | 'subscribe' | 'disconnect'> & { run(config?: never): Promise<void> };

/**
 * Subscribes `consumer` to `topics` from the beginning, runs it with `config` until `done()`
 * holds, then disconnects it.
 */
export async function consumeUntil<C extends RunnableConsumer>(
  consumer: C,
  topics: string[],
  config: Parameters<C['run']>[0],
  what: string,
  done: () => boolean,
): Promise<void> {
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await (consumer.run as (config: unknown) => Promise<void>)(config);
    await waitFor(what, done);
  } finally {
    await consumer.disconnect();
  }
}
