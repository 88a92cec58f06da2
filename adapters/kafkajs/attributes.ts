import type { Attributes } from '@opentelemetry/api';
import { isUtf8 } from 'node:buffer';
import { messagingAttributes } from '../../src/messaging/semconv.js';

/** Attribute counting the batch links given up beyond the link cap. */
export const LINKS_DROPPED_ATTRIBUTE = 'agentops.links.dropped';

const SYSTEM = 'kafka';
/** Longer keys are not recorded: an attribute is no place for a payload-sized key. */
const MAX_KEY_LENGTH = 256;

/** A message key as text, when it is text: binary and oversized keys are not recorded. */
function keyText(key: unknown): string | undefined {
  if (typeof key === 'string') return key.length <= MAX_KEY_LENGTH ? key : undefined;
  if (key instanceof Uint8Array && key.byteLength <= MAX_KEY_LENGTH && isUtf8(key)) {
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
  }
  return undefined;
}

function messageAttributes(message: { key?: unknown; value?: unknown } | undefined, into: Attributes): Attributes {
  if (message === undefined || message === null || typeof message !== 'object') return into;
  const key = keyText(message.key);
  if (key !== undefined) {
    into['messaging.kafka.message.key'] = key;
    if (message.value === null) into['messaging.kafka.message.tombstone'] = true;
  }
  return into;
}

/** Attributes of a PRODUCER span covering `messages` sent to `topic`. */
export function producerAttributes(topic: string, messages: readonly unknown[]): Attributes {
  const partitions = new Set(
    messages.map((m) => (m !== null && typeof m === 'object' ? (m as { partition?: unknown }).partition : undefined)),
  );
  const [only] = partitions;
  const attributes = messagingAttributes({
    system: SYSTEM,
    destination: topic,
    operationType: 'send',
    operationName: 'send',
    ...(messages.length !== 1 ? { batchMessageCount: messages.length } : {}),
    ...(partitions.size === 1 && typeof only === 'number' ? { partition: only } : {}),
  });
  return messages.length === 1 ? messageAttributes(messages[0] as { key?: unknown; value?: unknown }, attributes) : attributes;
}

/** The offset as the semconv integer, when kafkajs' string is one. */
function offsetNumber(offset: unknown): number | undefined {
  const n = typeof offset === 'string' && offset.length > 0 ? Number(offset) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Attributes of a CONSUMER span processing one message (`topic` unknown for a message from elsewhere). */
export function consumerAttributes(
  topic: string | undefined,
  partition: number | undefined,
  message: { key?: unknown; value?: unknown; offset?: unknown } | undefined,
  groupId: string | undefined,
): Attributes {
  const attributes = messagingAttributes({
    system: SYSTEM,
    destination: topic ?? '',
    operationType: 'process',
    operationName: 'process',
    ...(groupId !== undefined ? { consumerGroup: groupId } : {}),
    ...(partition !== undefined ? { partition } : {}),
  });
  if (topic === undefined) delete attributes['messaging.destination.name'];
  const offset = offsetNumber(message?.offset);
  if (offset !== undefined) attributes['messaging.kafka.offset'] = offset;
  return messageAttributes(message, attributes);
}

/** Attributes of the CONSUMER span of an eachBatch call. */
export function batchAttributes(
  topic: string,
  partition: number | undefined,
  messageCount: number,
  groupId: string | undefined,
): Attributes {
  return messagingAttributes({
    system: SYSTEM,
    destination: topic,
    operationType: 'process',
    operationName: 'process',
    batchMessageCount: messageCount,
    ...(groupId !== undefined ? { consumerGroup: groupId } : {}),
    ...(partition !== undefined ? { partition } : {}),
  });
}

/** Attributes learnt from kafkajs' RecordMetadata once a send settled. */
export function resultAttributes(topic: string, messageCount: number, result: unknown): Attributes {
  if (!Array.isArray(result)) return {};
  const entries = result.filter(
    (r): r is { topicName: string; partition: unknown; baseOffset?: unknown } =>
      r !== null && typeof r === 'object' && r.topicName === topic,
  );
  // Several partitions: which message went where is not reported, so none is claimed.
  if (entries.length !== 1) return {};
  const entry = entries[0]!;
  const attributes: Attributes = {};
  if (typeof entry.partition === 'number') attributes['messaging.destination.partition.id'] = String(entry.partition);
  const offset = offsetNumber(entry.baseOffset);
  if (messageCount === 1 && offset !== undefined) attributes['messaging.kafka.offset'] = offset;
  return attributes;
}
