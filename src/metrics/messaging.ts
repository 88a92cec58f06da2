/**
 * Messaging: the wait between a producer's hop and the consumer's (from the timestamp the
 * producer's side put on the message or job), and the messaging conventions' own consumer
 * metrics, `messaging.client.consumed.messages` and `messaging.process.duration`.
 *
 * A wait compares two clocks: the consumer's, when its hop starts, and the one that stamped the
 * message. Skew between the two hosts goes into the value as it is; a negative wait (the
 * consumer's clock behind) is recorded as 0 with `agentops.wait.skewed=true`, so it neither
 * vanishes from the count nor pulls the sum down.
 */
import type { Attributes } from '@opentelemetry/api';
import { AttributeSets } from './bounded.js';
import { instruments } from './instruments.js';
import { TALLIES } from './tally.js';
import { METRIC_ATTR } from './names.js';

/** Whose clock stamped what a wait is measured from. */
export type WaitClock =
  /** Kafka CreateTime: the producing client's clock when the message was created. */
  | 'create_time'
  /** Kafka LogAppendTime: the broker's clock when it appended the message (the produce leg is not in the wait). */
  | 'log_append_time'
  /** A Kafka message whose timestamp type the client did not report. */
  | 'unknown'
  /** BullMQ: the producer's clock when the job was added (a requested delay is taken off). */
  | 'job_timestamp';

const waitSets = new AttributeSets<Attributes>();

/**
 * Records one wait: `timestampMs` is the message's or job's timestamp (a requested delay already
 * added), `nowMs` the consumer's clock at its hop. `attempt` is BullMQ's first or a retry.
 */
export function recordWait(
  system: string,
  destination: string | undefined,
  clock: WaitClock,
  attempt: 'first' | 'retry' | undefined,
  timestampMs: number,
  nowMs: number,
): void {
  const set = instruments();
  if (set === undefined || !Number.isFinite(timestampMs) || timestampMs <= 0) return;
  const wait = (nowMs - timestampMs) / 1000;
  const skewed = wait < 0;
  set.waitDuration.record(skewed ? 0 : wait, waitSets.recentOr(system, destination, clock, attempt, skewed, waitAttributes));
}

/** The attribute set of a wait, with the destination bounded; one per distinct set. */
function waitAttributes(
  system: string,
  destination: string | undefined,
  clock: WaitClock,
  attempt: 'first' | 'retry' | undefined,
  skewed: boolean,
): Attributes {
  const dest = destination === undefined ? undefined : waitSets.bound(METRIC_ATTR.destination, destination);
  const key = `${system}\0${dest ?? ''}\0${clock}\0${attempt ?? ''}\0${skewed ? 1 : 0}`;
  let attributes = waitSets.get(key);
  if (attributes === undefined) {
    attributes = { [METRIC_ATTR.messagingSystem]: system, [METRIC_ATTR.waitClock]: clock };
    if (dest !== undefined) attributes[METRIC_ATTR.destination] = dest;
    if (attempt !== undefined) attributes[METRIC_ATTR.waitAttempt] = attempt;
    if (skewed) attributes[METRIC_ATTR.waitSkewed] = true;
    waitSets.set(key, attributes);
  }
  return attributes;
}

/** The conventions' attributes of a consumer operation: system, operation name, destination and group. */
export interface ConsumerAttributes {
  readonly base: Attributes;
  readonly failed: Map<string, Attributes>;
}

const consumerSets = new AttributeSets<ConsumerAttributes>();

/** The attribute sets for messages of `destination` processed by `operation` in consumer `group`. */
export function consumerAttributes(
  system: string,
  operation: string,
  destination: string | undefined,
  group: string | undefined,
): ConsumerAttributes {
  return consumerSets.recentOr(system, operation, destination, group, undefined, boundConsumerAttributes);
}

/** The attribute sets of a consumer operation, with its names bounded; one per distinct set. */
function boundConsumerAttributes(
  system: string,
  operation: string,
  destination: string | undefined,
  group: string | undefined,
): ConsumerAttributes {
  const sys = consumerSets.bound(METRIC_ATTR.messagingSystem, system);
  const op = consumerSets.bound(METRIC_ATTR.messagingOperation, operation);
  const dest = destination === undefined ? undefined : consumerSets.bound(METRIC_ATTR.destination, destination);
  const grp = group === undefined ? undefined : consumerSets.bound(METRIC_ATTR.consumerGroup, group);
  const key = `${sys}\0${op}\0${dest ?? ''}\0${grp ?? ''}`;
  const known = consumerSets.get(key);
  if (known !== undefined) return known;
  const base: Attributes = { [METRIC_ATTR.messagingSystem]: sys, [METRIC_ATTR.messagingOperation]: op };
  if (dest !== undefined) base[METRIC_ATTR.destination] = dest;
  if (grp !== undefined) base[METRIC_ATTR.consumerGroup] = grp;
  return consumerSets.set(key, { base, failed: new Map() });
}

/** Counts `count` messages delivered to the application. */
export function recordConsumed(attributes: ConsumerAttributes, count: number): void {
  if (instruments() !== undefined) TALLIES.consumedMessages.add(attributes.base, count);
}

/** Records a processing operation that ran since `start` (a `performance.now()` reading). */
export function recordProcessed(attributes: ConsumerAttributes, start: number, errorType: string | undefined): void {
  const set = instruments();
  if (set === undefined) return;
  let a = attributes.base;
  if (errorType !== undefined) {
    const type = consumerSets.bound(METRIC_ATTR.errorType, errorType);
    a = attributes.failed.get(type) ?? attributes.failed.set(type, { ...attributes.base, [METRIC_ATTR.errorType]: type }).get(type)!;
  }
  set.processDuration.record((performance.now() - start) / 1000, a);
}
