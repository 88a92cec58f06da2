import { context as otelContext, SpanKind, type Context } from '@opentelemetry/api';
import type { Producer } from 'kafkajs';
import { headersWithContext, isHeaderRecord, kafkaHeaderSetter, type KafkaHeaders } from '../../src/carriers/kafka.js';
import { log } from '../../src/base/diag.js';
import { startOutboundHop } from '../../src/hop/outbound.js';
import { type HopOutcome, type OutboundHop } from '../../src/hop/types.js';
import { messagingSpanName } from '../../src/messaging/semconv.js';
import { producerAttributes, resultAttributes } from './attributes.js';
import { producerSettings, type InstrumentProducerOptions, type ProducerSettings } from './options.js';
import { isInstrumented, withOverrides } from './proxy.js';

type AnyRecord = Record<string, unknown>;
type SendMethod = (this: unknown, arg: unknown) => Promise<unknown>;

interface TopicGroup {
  topic: string;
  messages: readonly unknown[];
}

interface ProducerHop {
  hop: OutboundHop;
  topic: string;
}

const isObject = (value: unknown): value is AnyRecord => typeof value === 'object' && value !== null && !Array.isArray(value);

function endAll(hops: readonly ProducerHop[], outcome?: HopOutcome): void {
  for (const { hop } of hops) {
    try {
      hop.end(outcome);
    } catch (err) {
      log.warn('kafka: ending a producer span failed', err as Error);
    }
  }
}

function startProducerHop(topic: string, messages: readonly unknown[], settings: ProducerSettings, hops: ProducerHop[]): OutboundHop {
  const hop = startOutboundHop({
    spanName: messagingSpanName('send', topic),
    kind: SpanKind.PRODUCER,
    attributes: producerAttributes(topic, messages),
    signing: settings.signing,
  });
  hops.push({ hop, topic });
  return hop;
}

/** The hop's W3C fields, injected once and then copied into every message of the hop. */
function fieldsOf(hop: OutboundHop): Record<string, string> {
  const fields: KafkaHeaders = {};
  hop.inject(fields, kafkaHeaderSetter);
  return fields as Record<string, string>;
}

/**
 * A copy of `message` carrying `fields`; the caller's message and headers stay untouched. The
 * copied headers are a carrier the hop built: another instrumentation injecting into them
 * (instrumentation-kafkajs) writes the hop's session too.
 */
function messageWithFields(message: unknown, fields: Record<string, string>, hop: OutboundHop, settings: ProducerSettings): unknown {
  if (!isObject(message) || Object.keys(fields).length === 0) return message;
  const headers = message.headers;
  if (headers !== undefined && headers !== null && !isHeaderRecord(headers)) {
    log.debug('kafka: message headers are not an object; sent without context');
    return message;
  }
  const copy = headersWithContext(headers ?? undefined, fields, { overrideTraceparent: settings.overrideTraceparent });
  hop.permit(copy);
  return { ...message, headers: copy };
}

/** Starts the PRODUCER spans for `groups` (pushed onto `hops`) and returns each group's message copies. */
function prepareGroups(groups: readonly TopicGroup[], settings: ProducerSettings, hops: ProducerHop[]): unknown[][] {
  return groups.map(({ topic, messages }) => {
    if (settings.spanPerMessage) {
      return messages.map((message) => {
        const hop = startProducerHop(topic, [message], settings, hops);
        return messageWithFields(message, fieldsOf(hop), hop, settings);
      });
    }
    const hop = startProducerHop(topic, messages, settings, hops);
    const fields = fieldsOf(hop);
    return messages.map((message) => messageWithFields(message, fields, hop, settings));
  });
}

function messageCounts(groups: readonly TopicGroup[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { topic, messages } of groups) counts.set(topic, (counts.get(topic) ?? 0) + messages.length);
  return counts;
}

/**
 * Sends the prepared copy and ends the spans when kafkajs settles; kafkajs' result or error goes
 * back to the caller unchanged. With one span, kafkajs runs inside it, so that another
 * instrumentation of the same producer (instrumentation-kafkajs) nests under it; the session
 * entry's permit is on the message headers the hop built, not in this context, so an HTTP call
 * kafkajs (or a wrapper) makes meanwhile does not carry the session entry.
 */
function dispatch(
  hops: readonly ProducerHop[],
  groups: readonly TopicGroup[],
  settings: ProducerSettings,
  send: () => Promise<unknown>,
): Promise<unknown> {
  const ctx: Context = hops.length === 1 ? hops[0]!.hop.context : otelContext.active();
  let pending: Promise<unknown>;
  try {
    pending = otelContext.with(ctx, send);
  } catch (err) {
    endAll(hops, { error: err });
    throw err;
  }
  return Promise.resolve(pending).then(
    (result) => {
      const counts = messageCounts(groups);
      for (const { hop, topic } of hops) {
        try {
          hop.span?.setAttributes(resultAttributes(topic, counts.get(topic) ?? 0, result));
        } catch (err) {
          log.debug(`kafka: send result not recorded: ${String(err)}`);
        }
      }
      endAll(hops);
      return result;
    },
    (err: unknown) => {
      endAll(hops, { error: err });
      throw err;
    },
  );
}

type Extract = (arg: unknown) => { groups: TopicGroup[]; rebuild: (copies: unknown[][]) => unknown } | undefined;

const sendShape: Extract = (record) => {
  if (!isObject(record) || typeof record.topic !== 'string' || !Array.isArray(record.messages)) return undefined;
  return { groups: [{ topic: record.topic, messages: record.messages }], rebuild: ([messages]) => ({ ...record, messages }) };
};

const sendBatchShape: Extract = (batch) => {
  if (!isObject(batch) || !Array.isArray(batch.topicMessages)) return undefined;
  const entries = batch.topicMessages as unknown[];
  const groups: TopicGroup[] = [];
  for (const entry of entries) {
    if (!isObject(entry) || typeof entry.topic !== 'string' || !Array.isArray(entry.messages)) return undefined;
    groups.push({ topic: entry.topic, messages: entry.messages });
  }
  return {
    groups,
    rebuild: (copies) => ({ ...batch, topicMessages: entries.map((entry, i) => ({ ...(entry as AnyRecord), messages: copies[i] })) }),
  };
};

/**
 * `send` / `sendBatch` of `target`, instrumented. Input kafkajs would reject goes to kafkajs
 * untouched so that the caller gets kafkajs' own error; a failure of ours sends the original.
 */
function instrumentedSend(target: AnyRecord, method: 'send' | 'sendBatch', extract: Extract, settings: ProducerSettings): SendMethod {
  return function send(this: unknown, arg: unknown) {
    const original = Reflect.get(target, method) as SendMethod;
    const hops: ProducerHop[] = [];
    let prepared: { groups: TopicGroup[]; copy: unknown } | undefined;
    try {
      const shape = extract(arg);
      if (shape !== undefined) prepared = { groups: shape.groups, copy: shape.rebuild(prepareGroups(shape.groups, settings, hops)) };
    } catch (err) {
      log.warn('kafka: producer instrumentation failed; message sent without context', err as Error);
      endAll(hops);
      hops.length = 0;
      prepared = undefined;
    }
    if (prepared === undefined) return original.call(target, arg);
    const copy = prepared.copy;
    return dispatch(hops, prepared.groups, settings, () => original.call(target, copy));
  };
}

function instrumentSender<T extends object>(target: T, settings: ProducerSettings, what: string, extra: Record<string, unknown> = {}): T {
  const record = target as unknown as AnyRecord;
  return withOverrides(
    target,
    {
      send: instrumentedSend(record, 'send', sendShape, settings),
      sendBatch: instrumentedSend(record, 'sendBatch', sendBatchShape, settings),
      ...extra,
    },
    what,
  );
}

/**
 * Instruments a kafkajs producer: `send` and `sendBatch` (and those of the transactions that
 * `transaction()` returns) start PRODUCER spans `send <topic>` and carry the W3C context and the
 * session entry in copies of the messages. Returns a Proxy with the producer's interface; the
 * producer itself is not modified.
 */
export function instrumentProducer<P extends Producer>(producer: P, options?: InstrumentProducerOptions): P {
  if (!isObject(producer) || typeof producer.send !== 'function' || typeof producer.sendBatch !== 'function') {
    throw new TypeError('agentops-propagation: instrumentProducer expects a kafkajs producer (kafka.producer())');
  }
  if (isInstrumented(producer)) {
    log.debug('instrumentProducer: producer already instrumented');
    return producer;
  }
  const settings = producerSettings(options);
  const record = producer as unknown as AnyRecord;
  const extra: Record<string, unknown> = {};
  if (typeof record.transaction === 'function') {
    extra.transaction = function transaction(this: unknown, ...args: unknown[]) {
      const original = Reflect.get(record, 'transaction') as (...a: unknown[]) => Promise<object>;
      return Promise.resolve(original.apply(record, args)).then((tx) => {
        try {
          return isObject(tx) ? instrumentSender(tx, settings, 'transaction') : tx;
        } catch (err) {
          log.warn('kafka: transaction not instrumented', err as Error);
          return tx;
        }
      });
    };
  }
  return instrumentSender(producer, settings, 'producer', extra);
}
