import { guard } from '../base/diag.js';
import { runAndEnd } from '../base/run-and-end.js';
import { startInboundHop } from './inbound.js';
import type { HopOutcome, InboundHop, InboundHopOptions } from './types.js';

function end(hop: InboundHop, outcome: HopOutcome | undefined): void {
  hop.end(outcome);
}

function endHop(hop: InboundHop, outcome?: HopOutcome): void {
  guard('ending a hop failed; the span may be missing', undefined, end, hop, outcome);
}

/**
 * Runs `fn` in a started hop's context and ends the hop when `fn` settles (at once for a plain
 * value, when the promise settles for a thenable). Errors are recorded and rethrown unchanged; a
 * synchronous `fn` stays synchronous.
 */
export function runInHop<T>(hop: InboundHop, fn: () => T): T {
  return runAndEnd(hop.context, fn, (failure) => endHop(hop, failure));
}

/**
 * Inbound hop around a handler: the handler and everything it awaits run in the hop's context;
 * the span ends when it settles. Handler errors are recorded and rethrown unchanged.
 */
export async function runInboundHop<Carrier, T>(
  options: InboundHopOptions<Carrier>,
  handler: (hop: InboundHop) => T | Promise<T>,
): Promise<T> {
  const hop = startInboundHop(options);
  return runInHop(hop, () => handler(hop));
}
