import { context as otelContext, type Context } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { log } from '../../src/base/diag.js';
import type { InboundHop } from '../../src/hop/types.js';
import { runInHop } from '../../src/hop/run.js';
import { resolveMessage, startMessageHop } from './inbound.js';
import { DEFAULT_POLICY } from './options.js';

/** How `withMessageContext` enters a message's context. */
export type MessageDelivery =
  /** eachMessage: the handler's hop is already running; its context is reused, no second span. */
  | { context: Context }
  /** eachBatch: a per-message CONSUMER span is started on demand, from the decision made for the batch links. */
  | { start: () => InboundHop };

const REGISTRY_KEY = Symbol.for('agentops-propagation.kafkajs.deliveries');
type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: WeakMap<object, MessageDelivery> };

// On globalThis: the consumer wrapper and `withMessageContext` may come from two copies of the
// package (ESM and CJS builds), and must still see the same deliveries.
function registry(): WeakMap<object, MessageDelivery> {
  const g = globalThis as GlobalWithRegistry;
  g[REGISTRY_KEY] ??= new WeakMap();
  return g[REGISTRY_KEY];
}

/** Records how a message kafkajs delivered through an instrumented consumer joins its context. */
export function rememberDelivery(message: unknown, delivery: MessageDelivery): void {
  if (message !== null && typeof message === 'object') registry().set(message, delivery);
}

function startHop(message: KafkaMessage): InboundHop {
  const delivery = registry().get(message);
  if (delivery !== undefined && 'start' in delivery) return delivery.start();
  log.debug('withMessageContext: message not delivered by an instrumented consumer; default policy (trust, rejoin)');
  const origin = { topic: undefined, partition: undefined, groupId: undefined };
  return startMessageHop(origin, message, resolveMessage(origin, message, DEFAULT_POLICY, 'batch'));
}

/**
 * Runs `fn` in `message`'s session context and returns what `fn` returns. In eachBatch this
 * starts a CONSUMER span `process <topic>` for the message, placed per `batchShape` (default
 * rejoin: a child of the message's session root, linked to its producer span and to the batch
 * span), so each message's work lands in its own session. In eachMessage the handler already
 * runs in the message's context, which `fn` shares. Errors thrown by `fn` are recorded and
 * rethrown unchanged.
 */
export function withMessageContext<T>(message: KafkaMessage, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('agentops-propagation: withMessageContext(message, fn) needs a function');
  const delivery = message !== null && typeof message === 'object' ? registry().get(message) : undefined;
  if (delivery !== undefined && 'context' in delivery) return otelContext.with(delivery.context, fn);
  let hop: InboundHop | undefined;
  try {
    hop = startHop(message);
  } catch (err) {
    log.warn('withMessageContext: message context unavailable; running without it', err as Error);
  }
  return hop === undefined ? fn() : runInHop(hop, fn);
}
