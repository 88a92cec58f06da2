import { context as otelContext, SpanKind, type Link } from '@opentelemetry/api';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, EachMessagePayload, KafkaMessage } from 'kafkajs';
import { ATTR } from '../../src/session/attributes.js';
import { kafkaHeaderGetter } from '../../src/carriers/kafka.js';
import { guard, log } from '../../src/base/diag.js';
import { resolveInbound } from '../../src/hop/decide.js';
import { startInboundHop } from '../../src/hop/inbound.js';
import { type InboundHop } from '../../src/hop/types.js';
import { messagingSpanName } from '../../src/messaging/semconv.js';
import { runInHop } from '../../src/hop/run.js';
import { LINKS_DROPPED_ATTRIBUTE, batchAttributes } from './attributes.js';
import { recordDeliveries } from './deliveries.js';
import { messageLink, resolveMessage, startMessageHop, type MessageOrigin } from './inbound.js';
import { contextWithDeliveries, runInDelivery, withMessageContext, type Deliveries } from './message-context.js';
import { consumerSettings, type ConsumerSettings, type InstrumentConsumerOptions } from './options.js';
import { isInstrumented, withOverrides } from './proxy.js';

/** The eachBatch payload of an instrumented consumer: kafkajs' own plus `withMessageContext`. */
export interface InstrumentedEachBatchPayload extends EachBatchPayload {
  /** Runs `fn` in `message`'s session context (a per-message CONSUMER span) and returns what `fn` returns. */
  withMessageContext<T>(message: KafkaMessage, fn: () => T): T;
}

/** `consumer.run` options of an instrumented consumer: eachBatch receives `withMessageContext`. */
export type InstrumentedConsumerRunConfig = Omit<ConsumerRunConfig, 'eachBatch'> & {
  /** kafkajs' eachBatch, whose payload also offers `withMessageContext`. */
  eachBatch?: (payload: InstrumentedEachBatchPayload) => Promise<void>;
};

/** A kafkajs consumer whose `run` instruments eachMessage and eachBatch; the rest is the consumer's. */
export type InstrumentedConsumer<C extends Consumer = Consumer> = Omit<C, 'run'> & {
  /** kafkajs' `run`, with eachMessage and eachBatch running in their messages' context. */
  run(config?: InstrumentedConsumerRunConfig): Promise<void>;
};

type AnyRecord = Record<string, unknown>;
type Handler<P> = (this: unknown, payload: P) => Promise<void>;

const isObject = (value: unknown): value is AnyRecord => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A started hop and the payload its handler gets. */
interface StartedHop<P> {
  hop: InboundHop;
  payload: P;
}

/**
 * A kafkajs handler that runs each call in the hop `start` begins for its payload. When starting
 * the hop fails (logged), the handler still runs, with `withoutHop(payload)`: a tracing failure
 * must never lose a message.
 */
function inHop<In, Out>(
  handler: Handler<Out>,
  what: string,
  start: (payload: In) => StartedHop<Out>,
  withoutHop: (payload: In) => Out,
): Handler<In> {
  const failed = `kafka: ${what} context unavailable; handler runs without it`;
  return function runInMessageHop(this: unknown, payload) {
    const started = guard(failed, undefined, start, payload);
    if (started === undefined) return handler.call(this, withoutHop(payload));
    return runInHop(started.hop, () => handler.call(this, started.payload));
  };
}

function startEachMessageHop(
  payload: EachMessagePayload,
  settings: ConsumerSettings,
  groupId: string | undefined,
): StartedHop<EachMessagePayload> {
  const { topic, partition, message } = payload;
  const origin: MessageOrigin = { topic, partition, groupId };
  // The hop's context carries the delivery, so that `withMessageContext` in the handler finds it.
  const deliveries: Deliveries = { topic, partition, byOffset: new Map() };
  const parent = contextWithDeliveries(otelContext.active(), deliveries);
  recordDeliveries(topic, groupId, [message]);
  const hop = startMessageHop(origin, message, resolveMessage(origin, message, settings.policyFor(topic), 'message', parent));
  if (typeof message?.offset === 'string') deliveries.byOffset.set(message.offset, { context: hop.context });
  return { hop, payload };
}

function startBatchHop(
  payload: EachBatchPayload,
  settings: ConsumerSettings,
  groupId: string | undefined,
): { hop: InboundHop; payload: InstrumentedEachBatchPayload } {
  const { batch } = payload;
  const topic = batch.topic;
  const messages: readonly KafkaMessage[] = Array.isArray(batch.messages) ? batch.messages : [];
  const origin: MessageOrigin = { topic, partition: batch.partition, groupId };
  const policy = settings.policyFor(topic);
  const links: Link[] = [];
  const seen = new Set<string>();
  // The messages' hops link the batch span, which starts after them: they read it when they start.
  const started: { hop?: InboundHop } = {};
  // Each message by its offset in this topic partition: what identifies it, whatever object the
  // handler later hands to `withMessageContext`.
  const deliveries: Deliveries = { topic, partition: batch.partition, byOffset: new Map() };
  const parent = contextWithDeliveries(otelContext.active(), deliveries);
  recordDeliveries(topic, groupId, messages);
  for (const message of messages) {
    const resolved = resolveMessage(origin, message, policy, 'batch', parent);
    if (typeof message?.offset === 'string')
      deliveries.byOffset.set(message.offset, {
        start: () => {
          const batchSpan = started.hop?.span.spanContext();
          return startMessageHop(
            origin,
            message,
            resolved,
            batchSpan === undefined ? undefined : [{ context: batchSpan, attributes: { [ATTR.linkType]: 'batch' } }],
          );
        },
      });
    const link = messageLink(resolved);
    if (link === undefined) continue;
    const key = `${link.context.traceId}-${link.context.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (links.length < settings.maxBatchLinks) links.push(link);
  }
  const dropped = seen.size - links.length;
  if (dropped > 0) log.debug(`kafka: eachBatch span keeps ${links.length} links; ${dropped} more message contexts only counted`);
  // The batch span decides nothing about a caller (its messages were decided above, and counted
  // there): its decision is made here, uncounted, and handed over.
  const batchInput = { carrier: undefined, getter: kafkaHeaderGetter, trust: 'trust' as const, parentContext: parent };
  const batchHop = startInboundHop({
    ...batchInput,
    spanName: messagingSpanName('process', topic),
    kind: SpanKind.CONSUMER,
    attributes: {
      ...batchAttributes(topic, batch.partition, messages.length, groupId),
      ...(dropped > 0 ? { [LINKS_DROPPED_ATTRIBUTE]: dropped } : {}),
    },
    links,
    resolved: resolveInbound(batchInput),
  });
  started.hop = batchHop;
  return { hop: batchHop, payload: { ...payload, withMessageContext: (message, fn) => runInDelivery(deliveries, message, fn) } };
}

/**
 * Instruments a kafkajs consumer: `run({ eachMessage })` runs each message in a CONSUMER span
 * `process <topic>` joined to the producer's session; `run({ eachBatch })` runs the batch in one
 * span linking its messages' contexts and offers `withMessageContext` on the payload. Returns a
 * Proxy with the consumer's interface; the consumer and the run config are not modified.
 */
export function instrumentConsumer<C extends Consumer>(consumer: C, options?: InstrumentConsumerOptions): InstrumentedConsumer<C> {
  if (!isObject(consumer) || typeof consumer.run !== 'function') {
    throw new TypeError('agentops-propagation: instrumentConsumer expects a kafkajs consumer (kafka.consumer({ groupId }))');
  }
  if (isInstrumented(consumer)) {
    log.debug('instrumentConsumer: consumer already instrumented');
    return consumer as unknown as InstrumentedConsumer<C>;
  }
  const settings = consumerSettings(options);
  let joinedGroup: string | undefined;
  if (settings.groupId === undefined) {
    try {
      const groupJoin = consumer.events?.GROUP_JOIN;
      if (typeof groupJoin === 'string' && typeof consumer.on === 'function') {
        consumer.on(groupJoin, (event) => {
          const id = event?.payload?.groupId;
          if (typeof id === 'string') joinedGroup = id;
        });
      }
    } catch (err) {
      log.debug(`instrumentConsumer: consumer group not observable: ${String(err)}`);
    }
  }
  const groupId = () => settings.groupId ?? joinedGroup;
  const target = consumer as unknown as AnyRecord;

  function run(this: unknown, config?: InstrumentedConsumerRunConfig): Promise<void> {
    const original = Reflect.get(target, 'run') as (config?: ConsumerRunConfig) => Promise<void>;
    let wrapped: ConsumerRunConfig | undefined = config as ConsumerRunConfig | undefined;
    try {
      if (isObject(config)) {
        const copy: AnyRecord = { ...config };
        if (typeof config.eachMessage === 'function')
          copy.eachMessage = inHop(
            config.eachMessage as Handler<EachMessagePayload>,
            'eachMessage',
            (p: EachMessagePayload) => startEachMessageHop(p, settings, groupId()),
            (p) => p,
          );
        if (typeof config.eachBatch === 'function')
          copy.eachBatch = inHop(
            config.eachBatch as Handler<InstrumentedEachBatchPayload>,
            'eachBatch',
            (p: EachBatchPayload) => startBatchHop(p, settings, groupId()),
            (p) => ({ ...p, withMessageContext }),
          );
        wrapped = copy as ConsumerRunConfig;
      }
    } catch (err) {
      log.warn('kafka: consumer instrumentation failed; run without it', err as Error);
      wrapped = config as ConsumerRunConfig | undefined;
    }
    return original.call(target, wrapped);
  }
  return withOverrides(consumer, { run }, 'consumer') as unknown as InstrumentedConsumer<C>;
}
