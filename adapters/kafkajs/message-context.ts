import { context as otelContext, createContextKey, type Context } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { log } from '../../src/base/diag.js';
import type { InboundHop } from '../../src/hop/types.js';
import { runInHop } from '../../src/hop/run.js';
import { resolveMessage, startMessageHop } from './inbound.js';
import { UNKNOWN_MESSAGE_POLICY } from './options.js';

/** How `withMessageContext` enters a message's context. */
type MessageDelivery =
  /** eachMessage: the handler's hop is already running; its context is reused, no second span. */
  | { context: Context }
  /** eachBatch: a per-message CONSUMER span is started on demand, from the decision made for the batch links. */
  | { start: () => InboundHop };

/**
 * The messages an instrumented consumer is delivering to the handler running in a context: one
 * topic partition (eachMessage's one message, or eachBatch's batch), each message by its offset.
 * Together they identify a message; an object a handler rebuilt (`{ ...m, value }`) still has them.
 */
export interface Deliveries {
  topic: string;
  partition: number;
  byOffset: Map<string, MessageDelivery>;
}

// createContextKey uses Symbol.for: the consumer wrapper and `withMessageContext` may come from
// two copies of the package (ESM and CJS builds), and must still see the same deliveries.
const DELIVERIES_KEY = createContextKey('agentops-propagation.kafkajs.deliveries');

/** `ctx` in which `deliveries` are the messages being delivered. */
export function contextWithDeliveries(ctx: Context, deliveries: Deliveries): Context {
  return ctx.setValue(DELIVERIES_KEY, deliveries);
}

function deliveriesOf(ctx: Context): Deliveries | undefined {
  const value = ctx.getValue(DELIVERIES_KEY);
  return typeof value === 'object' && value !== null && (value as Deliveries).byOffset instanceof Map ? (value as Deliveries) : undefined;
}

function offsetOf(message: unknown): string | undefined {
  const offset = typeof message === 'object' && message !== null ? (message as { offset?: unknown }).offset : undefined;
  return typeof offset === 'string' ? offset : undefined;
}

/**
 * The hop of a message the adapter cannot identify: not one an instrumented consumer is
 * delivering here, whatever object it is. Failing open would let a handler's copy of a message
 * from an `ignore` topic join the session its headers claim: its producer is only linked.
 */
function unknownMessageHop(message: KafkaMessage): InboundHop {
  log.debug(
    'withMessageContext: message not identified among the deliveries of an instrumented consumer; its producer is linked, its session not taken',
  );
  const origin = { topic: undefined, partition: undefined, groupId: undefined };
  return startMessageHop(origin, message, resolveMessage(origin, message, UNKNOWN_MESSAGE_POLICY, 'batch'));
}

/** Runs `fn` in the context of `message`, found by its offset among `deliveries`. */
export function runInDelivery<T>(deliveries: Deliveries | undefined, message: KafkaMessage, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('agentops-propagation: withMessageContext(message, fn) needs a function');
  const offset = offsetOf(message);
  const delivery = offset === undefined ? undefined : deliveries?.byOffset.get(offset);
  if (delivery !== undefined && 'context' in delivery) return otelContext.with(delivery.context, fn);
  let hop: InboundHop | undefined;
  try {
    hop = delivery !== undefined ? delivery.start() : unknownMessageHop(message);
  } catch (err) {
    log.warn('withMessageContext: message context unavailable; running without it', err as Error);
  }
  return hop === undefined ? fn() : runInHop(hop, fn);
}

/**
 * Runs `fn` in `message`'s session context and returns what `fn` returns. In eachBatch this
 * starts a CONSUMER span `process <topic>` for the message, placed per `batchShape` (default
 * rejoin: a child of the message's session root, linked to its producer span and to the batch
 * span), so each message's work lands in its own session. In eachMessage the handler already
 * runs in the message's context, which `fn` shares. The message is identified by its offset in
 * the topic partition the consumer is delivering (a copy of it works); any other message gets
 * `link` (its producer linked, no session). Errors thrown by `fn` are recorded and rethrown
 * unchanged.
 */
export function withMessageContext<T>(message: KafkaMessage, fn: () => T): T {
  return runInDelivery(deliveriesOf(otelContext.active()), message, fn);
}
