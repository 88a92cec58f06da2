import { randomUUID } from 'node:crypto';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  FlowProducer,
  Queue,
  Worker,
  type ConnectionOptions,
  type Job,
  type QueueBaseOptions,
  type QueueOptions,
  type WorkerOptions,
} from 'bullmq';
import { Redis } from 'ioredis';

/** The Redis the integration project runs against (test/setup/services.ts sets REDIS_URL). */
function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** BullMQ connection options for the test Redis (a fresh object: BullMQ may keep it). */
export function connection(): ConnectionOptions {
  const url = new URL(redisUrl());
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    maxRetriesPerRequest: null,
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/** Every test gets its own queues: runs never see each other's jobs. */
export function uniqueQueueName(prefix = 'q'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Polls `probe` until it returns something truthy; fails naming `what` after the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  deadlineMs = 30_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface OpenedQueue {
  obliterate(options: { force: boolean }): Promise<unknown>;
  close(): Promise<unknown>;
}
interface OpenedWorker {
  close(force?: boolean): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
interface OpenedFlowProducer {
  close(): Promise<unknown>;
}

/** The classes of one BullMQ major version (5 as `bullmq`, 6 as `bullmq6`). */
export interface BullMQClasses<Q, QO, W, WO, P, F, FO> {
  Queue: new (name: string, options: QO) => Q;
  Worker: new (name: string, processor: P | string, options: WO) => W;
  FlowProducer: new (options: FO) => F;
}

/**
 * BullMQ objects a test opened, for one major version's classes; `close()` (afterEach) closes
 * workers and flow producers, obliterates and closes queues. Workers swallow their 'error' events.
 */
export class OpenedBullMQ<Q extends OpenedQueue, QO, W extends OpenedWorker, WO, P, F extends OpenedFlowProducer, FO> {
  private readonly queues: Q[] = [];
  private readonly workers: W[] = [];
  private readonly flows: F[] = [];
  private readonly redises: Redis[] = [];

  constructor(
    private readonly classes: BullMQClasses<Q, QO, W, WO, P, F, FO>,
    private readonly connect: () => unknown,
  ) {}

  queue(name: string, options: Omit<QO, 'connection'> = {} as Omit<QO, 'connection'>): Q {
    const queue = new this.classes.Queue(name, { ...options, connection: this.connect() } as QO);
    this.queues.push(queue);
    return queue;
  }

  /** A worker; `processor` may be a file path (sandboxed processors). */
  worker(name: string, processor: P | string, options: Omit<WO, 'connection'> = {} as Omit<WO, 'connection'>): W {
    const worker = new this.classes.Worker(name, processor, { ...options, connection: this.connect() } as WO);
    worker.on('error', () => undefined);
    this.workers.push(worker);
    return worker;
  }

  flowProducer(options: Omit<FO, 'connection'> = {} as Omit<FO, 'connection'>): F {
    const producer = new this.classes.FlowProducer({ ...options, connection: this.connect() } as FO);
    this.flows.push(producer);
    return producer;
  }

  redis(): Redis {
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    this.redises.push(redis);
    return redis;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close(true).catch(() => undefined)));
    await Promise.all(this.flows.splice(0).map((f) => f.close().catch(() => undefined)));
    await Promise.all(
      this.queues.splice(0).map(async (q) => {
        await q.obliterate({ force: true }).catch(() => undefined);
        await q.close().catch(() => undefined);
      }),
    );
    await Promise.all(this.redises.splice(0).map((r) => r.quit().catch(() => undefined)));
  }
}

/** Diag messages logged while a test runs (the library logs every dropped or refused input there). */
export interface DiagCapture {
  messages: string[];
  /** Messages containing `text`. */
  matching(text: string): string[];
  stop(): void;
}

export function captureDiag(): DiagCapture {
  const messages: string[] = [];
  const record = (message: string, ...args: unknown[]) => {
    messages.push([message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(' '));
  };
  const logger: DiagLogger = { error: record, warn: record, info: record, debug: record, verbose: () => undefined };
  diag.setLogger(logger, { logLevel: DiagLogLevel.DEBUG, suppressOverrideMessage: true });
  // The API announces its own registration through the new logger; that is not ours.
  messages.length = 0;
  return {
    messages,
    matching: (text) => messages.filter((m) => m.includes(text)),
    stop: () => diag.disable(),
  };
}

/** The CONSUMER `process <queue>` spans of a queue. */
export function processSpans(spans: ReadableSpan[], queueName: string): ReadableSpan[] {
  return spans.filter((s) => s.name === `process ${queueName}`);
}

/** BullMQ 5 objects a test opened (see {@link OpenedBullMQ}). */
export class BullMQResources extends OpenedBullMQ<
  Queue,
  QueueOptions,
  Worker,
  WorkerOptions,
  (job: Job) => Promise<unknown>,
  FlowProducer,
  QueueBaseOptions
> {
  constructor() {
    super({ Queue, Worker, FlowProducer }, connection);
  }
}
