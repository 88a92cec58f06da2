import { SpanKind, type Link } from '@opentelemetry/api';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, EachMessagePayload, KafkaMessage } from 'kafkajs';
import { ATTR } from '../../src/session/attributes.js';
import { kafkaHeaderGetter } from '../../src/carriers/kafka.js';
import { log } from '../../src/base/diag.js';
import { startInboundHop } from '../../src/hop/inbound.js';
import { type InboundHop } from '../../src/hop/types.js';
import { messagingSpanName } from '../../src/messaging/semconv.js';
import { runInHop } from '../../src/hop/run.js';
import { LINKS_DROPPED_ATTRIBUTE, batchAttributes } from './attributes.js';
import { messageLink, resolveMessage, startMessageHop, type MessageOrigin } from './inbound.js';
import { rememberDelivery, withMessageContext } from './message-context.js';
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

function startEachMessageHop(payload: EachMessagePayload, settings: ConsumerSettings, groupId: string | undefined): InboundHop {
  const { topic, partition, message } = payload;
  const origin: MessageOrigin = { topic, partition, groupId };
  const hop = startMessageHop(origin, message, resolveMessage(origin, message, settings.policyFor(topic), 'message'));
  rememberDelivery(message, { context: hop.context });
  return hop;
}

function wrapEachMessage(
  handler: Handler<EachMessagePayload>,
  settings: ConsumerSettings,
  groupId: () => string | undefined,
): Handler<EachMessagePayload> {
  return function eachMessage(this: unknown, payload) {
    let hop: InboundHop | undefined;
    try {
      hop = startEachMessageHop(payload, settings, groupId());
    } catch (err) {
      log.warn('kafka: eachMessage context unavailable; handler runs without it', err as Error);
    }
    return hop === undefined ? handler.call(this, payload) : runInHop(hop, () => handler.call(this, payload));
  };
}

/**
 * The batch span: a new root (a batch mixes sessions, none is its own) linking each distinct
 * message context once, up to `maxBatchLinks`. Each message's decision is made here, once, and
 * reused by the per-message span `withMessageContext` starts.
 */
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
  for (const message of messages) {
    const resolved = resolveMessage(origin, message, policy, 'batch');
    rememberDelivery(message, {
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
  const batchHop = startInboundHop({
    carrier: undefined,
    getter: kafkaHeaderGetter,
    spanName: messagingSpanName('process', topic),
    kind: SpanKind.CONSUMER,
    attributes: {
      ...batchAttributes(topic, batch.partition, messages.length, groupId),
      ...(dropped > 0 ? { [LINKS_DROPPED_ATTRIBUTE]: dropped } : {}),
    },
    trust: 'trust',
    links,
  });
  started.hop = batchHop;
  return { hop: batchHop, payload: { ...payload, withMessageContext } };
}

function wrapEachBatch(
  handler: Handler<InstrumentedEachBatchPayload>,
  settings: ConsumerSettings,
  groupId: () => string | undefined,
): Handler<EachBatchPayload> {
  return function eachBatch(this: unknown, payload) {
    let started: ReturnType<typeof startBatchHop> | undefined;
    try {
      started = startBatchHop(payload, settings, groupId());
    } catch (err) {
      log.warn('kafka: eachBatch context unavailable; handler runs without it', err as Error);
    }
    if (started === undefined) return handler.call(this, { ...payload, withMessageContext });
    const augmented = started.payload;
    return runInHop(started.hop, () => handler.call(this, augmented));
  };
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
          copy.eachMessage = wrapEachMessage(config.eachMessage as Handler<EachMessagePayload>, settings, groupId);
        if (typeof config.eachBatch === 'function')
          copy.eachBatch = wrapEachBatch(config.eachBatch as Handler<InstrumentedEachBatchPayload>, settings, groupId);
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
