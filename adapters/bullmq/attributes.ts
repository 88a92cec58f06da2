import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { BoundedCache } from '../../src/base/bounded-cache.js';
import { messagingAttributes, messagingSpanName, type MessagingSpanInfo } from '../../src/messaging/semconv.js';

/** The 1-based number of the attempt a process span ran (ours: the messaging conventions define none). */
export const ATTEMPT_ATTRIBUTE = 'messaging.bullmq.job.attempt';

/** BullMQ's own attribute names that the adapter reads. */
export const BULLMQ_ATTR = {
  queueName: 'bullmq.queue.name',
  operation: 'bullmq.queue.operation',
  jobId: 'bullmq.job.id',
  jobName: 'bullmq.job.name',
  attemptsMade: 'bullmq.job.attempts.made',
  bulkCount: 'bullmq.job.bulk.count',
  failedReason: 'bullmq.job.failed.reason',
} as const;

/** BullMQ attributes that carry job payloads (results, progress values): dropped unless asked for. */
const PAYLOAD_ATTRIBUTES: ReadonlySet<string> = new Set(['bullmq.job.result', 'bullmq.job.progress']);

/**
 * BullMQ operations that are messaging operations, by their messaging operation type. A flow's
 * `addNode` creates one message with its own context (the conventions' "create"); the other
 * BullMQ operations (pause, close, extendLocks, ...) are queue administration and stay as BullMQ
 * names them.
 */
const OPERATION_TYPES: Readonly<Record<string, MessagingSpanInfo['operationType']>> = {
  add: 'send',
  addBulk: 'send',
  addFlow: 'send',
  addBulkFlows: 'send',
  addNode: 'create',
  getNextJob: 'receive',
  process: 'process',
  complete: 'settle',
  fail: 'settle',
  retry: 'settle',
  delay: 'settle',
};

/** The messaging system name. */
const MESSAGING_SYSTEM = 'bullmq';

/** A job id as BullMQ gives it (a string, or a number from older producers), else undefined. */
export function jobIdOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** True for the id of a job-scheduler or repeatable-job run (`repeat:<scheduler or key>:<millis>`, BullMQ 5 and 6). */
export function isScheduledJobId(jobId: string | undefined): boolean {
  return jobId !== undefined && jobId.startsWith('repeat:');
}

/** A messaging operation of a queue: its semantic-convention attributes and span name. */
export interface QueueOperation {
  /** Shared by every span of the operation: copy before changing. */
  readonly attributes: Readonly<Attributes>;
  readonly spanName: string;
}

/** Operations seen, by queue then operation: a queue's spans repeat the same few. */
const operations = new BoundedCache<string, Map<string, QueueOperation | null>>(256);

/**
 * The semantic-convention attributes and span name (`<operation> <queue>`) of a BullMQ
 * operation, or undefined when it is not a messaging one.
 */
export function operationOf(queueName: string, operation: string): QueueOperation | undefined {
  let byOperation = operations.get(queueName);
  if (byOperation === undefined) {
    byOperation = new Map();
    operations.set(queueName, byOperation);
  }
  let known = byOperation.get(operation);
  if (known === undefined) {
    known = describeOperation(queueName, operation) ?? null;
    // Operation names come from BullMQ, a few dozen at most; the bound is for a misbehaving caller.
    if (byOperation.size < 64) byOperation.set(operation, known);
  }
  return known ?? undefined;
}

function describeOperation(queueName: string, operation: string): QueueOperation | undefined {
  const operationType = Object.prototype.hasOwnProperty.call(OPERATION_TYPES, operation) ? OPERATION_TYPES[operation] : undefined;
  if (operationType === undefined) return undefined;
  const attributes = messagingAttributes({ system: MESSAGING_SYSTEM, destination: queueName, operationType, operationName: operation });
  // addBulkFlows spans several queues and names none.
  if (queueName === '') delete attributes['messaging.destination.name'];
  return { attributes: Object.freeze(attributes), spanName: queueName === '' ? operation : messagingSpanName(operation, queueName) };
}

/** Copies `from`'s attributes into `into` (no spread: building objects by spreading is slow on Node 20). */
export function addAttributes(into: Attributes, from: Readonly<Attributes> | undefined): void {
  if (from === undefined) return;
  for (const key in from) into[key] = from[key];
}

function isAttributeValue(value: unknown): value is AttributeValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || Array.isArray(value);
}

/** BullMQ's attributes as they go on our spans: valid values only, payloads only when asked for. */
export function keptAttributes(attributes: unknown, recordPayloads: boolean): Attributes {
  const kept: Attributes = {};
  if (typeof attributes !== 'object' || attributes === null) return kept;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = (attributes as Record<string, unknown>)[key];
    if (!isAttributeValue(value)) continue;
    if (!recordPayloads && PAYLOAD_ATTRIBUTES.has(key)) continue;
    kept[key] = value;
  }
  return kept;
}

export function derivedAttributes(attributes: Attributes): Attributes | undefined {
  let derived: Attributes | undefined;
  const jobId = jobIdOf(attributes[BULLMQ_ATTR.jobId]);
  if (jobId !== undefined) (derived ??= {})['messaging.message.id'] = jobId;
  const bulk = attributes[BULLMQ_ATTR.bulkCount];
  if (typeof bulk === 'number' && Number.isInteger(bulk) && bulk >= 0) (derived ??= {})['messaging.batch.message_count'] = bulk;
  // BullMQ reports attempts made once an attempt ends, counting that attempt: its number.
  const attempts = attributes[BULLMQ_ATTR.attemptsMade];
  if (typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 1) (derived ??= {})[ATTEMPT_ATTRIBUTE] = attempts;
  return derived;
}
