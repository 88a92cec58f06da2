/**
 * The trace half of the session propagator: W3C `traceparent` / `tracestate` (Level 2). The SDK
 * keeps only the sampled bit on child spans, so the inbound flags ride in the context
 * (INBOUND_FLAGS_KEY) and the `random` bit is written again on every traceparent of that trace.
 */
import {
  isSpanContextValid,
  trace,
  type Context,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
  type TraceState as ApiTraceState,
} from '@opentelemetry/api';
import { INBOUND_FLAGS_KEY, type InboundFlags } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { bump } from '../base/state.js';
import { readHeaderValue } from '../propagation/carrier-values.js';
import type { PropagationLimits } from '../propagation/limits.js';
import { FLAG_RANDOM, FLAG_SAMPLED, formatTraceparent, normalizeHexId, parseTraceparent } from '../propagation/traceparent.js';
import { parseTracestate, sanitizeTracestate, TraceState } from '../propagation/tracestate.js';
import { readField, TRACEPARENT, TRACESTATE, writeField } from './fields.js';

/** Characters of a traceparent (or B3 value) read at most: 55 are needed, future versions append. */
export const ID_HEADER_READ_LIMIT = 512;

/** Whether the inbound flags recorded in `context` carry the random bit for `traceId`. */
function inboundRandom(context: Context, traceId: string): boolean {
  const inbound = context.getValue(INBOUND_FLAGS_KEY) as InboundFlags | undefined;
  return (
    typeof inbound === 'object' &&
    inbound !== null &&
    typeof inbound.flags === 'number' &&
    (inbound.flags & FLAG_RANDOM) !== 0 &&
    // The recorded id is lowercase: compare as is first, normalize only when that fails.
    (inbound.traceId === traceId || inbound.traceId === normalizeHexId(traceId, 32))
  );
}

function serializeTraceState(ts: ApiTraceState | undefined, limits: PropagationLimits): string | undefined {
  if (ts === undefined || ts === null) return undefined;
  if (ts instanceof TraceState) {
    const out = ts.truncate(limits.maxTracestateLength).serialize();
    return out.length > 0 ? out : undefined;
  }
  // Another implementation's state (core's TraceState, a sampler's): re-validate its output.
  return sanitizeTracestate(ts.serialize(), limits.maxTracestateLength);
}

/** Writes the active span context as traceparent (+ tracestate); nothing for an invalid one. */
export function injectTraceContext(context: Context, carrier: unknown, setter: TextMapSetter, limits: PropagationLimits): void {
  const sc = trace.getSpanContext(context);
  if (sc === undefined || !isSpanContextValid(sc)) return;
  const raw = typeof sc.traceFlags === 'number' ? sc.traceFlags : 0;
  // Only the bits this version defines; the others MUST be written as zero.
  let flags = raw & FLAG_SAMPLED;
  // Level 2, "Random Trace ID Flag": the random bit goes out on every traceparent of the trace.
  if ((raw & FLAG_RANDOM) !== 0 || inboundRandom(context, sc.traceId)) flags |= FLAG_RANDOM;
  const traceparent = formatTraceparent(sc.traceId, sc.spanId, flags);
  if (traceparent === undefined) return;
  writeField(setter, carrier, TRACEPARENT, traceparent);
  const tracestate = serializeTraceState(sc.traceState, limits);
  if (tracestate !== undefined) writeField(setter, carrier, TRACESTATE, tracestate);
}

/**
 * The caller's span context from traceparent (+ tracestate), or undefined when there is no valid
 * traceparent (the composite then tries B3, when enabled).
 */
export function extractTraceContext(
  context: Context,
  carrier: unknown,
  getter: TextMapGetter,
  limits: PropagationLimits,
): Context | undefined {
  const raw = readField(getter, carrier, TRACEPARENT);
  if (raw === undefined || raw === null) return undefined;
  const value = readHeaderValue(raw, 'single', ID_HEADER_READ_LIMIT);
  const parsed = value === undefined ? undefined : parseTraceparent(value);
  if (parsed === undefined) {
    bump('traceparentRejected');
    log.debug(Array.isArray(raw) && raw.length > 1 ? 'repeated traceparent rejected' : 'invalid traceparent rejected');
    return undefined;
  }
  const { traceId, spanId, flags } = parsed;
  const spanContext: SpanContext = { traceId, spanId, traceFlags: flags, isRemote: true };
  // tracestate is only read with a valid traceparent (W3C: MUST NOT parse it otherwise).
  const header = readHeaderValue(readField(getter, carrier, TRACESTATE), 'list', limits.maxTracestateScanBytes);
  const traceState = header === undefined ? undefined : parseTracestate(header, limits);
  if (traceState !== undefined) spanContext.traceState = traceState;
  const inbound: InboundFlags = { traceId, flags };
  return trace.setSpanContext(context, spanContext).setValue(INBOUND_FLAGS_KEY, inbound);
}
