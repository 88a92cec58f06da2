import { context as otelContext } from '@opentelemetry/api';
import { log } from '../base/diag.js';
import type { HopOutcome, InboundHop } from './inbound.js';

function endQuietly(hop: InboundHop, outcome?: HopOutcome): void {
  try {
    hop.end(outcome);
  } catch (err) {
    log.warn('ending a hop failed; the span may be missing', err as Error);
  }
}

/**
 * Runs `fn` in a started hop's context and ends the hop when `fn` settles: at once for a plain
 * value, when the promise settles for a thenable. Returns what `fn` returns (a promise result
 * settles with the same value or error, after the span ended); errors are recorded and rethrown
 * unchanged. Unlike `runInboundHop`, a synchronous `fn` stays synchronous, which callbacks such
 * as `withMessageContext(message, fn)` promise their callers.
 */
export function runInHop<T>(hop: InboundHop, fn: () => T): T {
  let result: T;
  try {
    result = otelContext.with(hop.context, fn);
  } catch (err) {
    endQuietly(hop, { error: err });
    throw err;
  }
  if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof (result as { then?: unknown }).then === 'function') {
    return (result as unknown as PromiseLike<unknown>).then(
      (value) => {
        endQuietly(hop);
        return value;
      },
      (err: unknown) => {
        endQuietly(hop, { error: err });
        throw err;
      },
    ) as unknown as T;
  }
  endQuietly(hop);
  return result;
}
