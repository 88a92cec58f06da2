/**
 * B3 (single `b3` header or the `X-B3-*` set) through `@opentelemetry/propagator-b3`: read when
 * no valid traceparent is present, written on request. Ids are normalized to the lowercase form
 * the W3C side writes, and the sampled bit is recorded like a traceparent's flags.
 */
import { trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { INBOUND_FLAGS_KEY, type InboundFlags } from '../base/context-keys.js';
import { readHeaderValue } from '../propagation/carrier-values.js';
import { FLAG_SAMPLED, normalizeHexId } from '../propagation/traceparent.js';
import { readField } from './fields.js';
import { ID_HEADER_READ_LIMIT } from './trace-context.js';

/** How B3 is written on inject: one `b3` header, or the `X-B3-*` set. */
export type B3InjectMode = 'single' | 'multi';

/** A B3 writer for the given mode. */
export function b3Writer(mode: B3InjectMode): B3Propagator {
  return new B3Propagator({ injectEncoding: mode === 'multi' ? B3InjectEncoding.MULTI_HEADER : B3InjectEncoding.SINGLE_HEADER });
}

/** A B3 reader. */
export function b3Reader(): B3Propagator {
  return new B3Propagator();
}

/** Writes B3 for the active span context. */
export function injectB3(writer: B3Propagator, context: Context, carrier: unknown, setter: TextMapSetter): void {
  writer.inject(context, carrier, setter);
}

/** The caller's span context from B3, or undefined when there is none valid. */
export function extractB3(reader: B3Propagator, context: Context, carrier: unknown, getter: TextMapGetter): Context | undefined {
  const bounded: TextMapGetter = {
    get: (c, key) => readHeaderValue(readField(getter, c, key), 'single', ID_HEADER_READ_LIMIT),
    keys: () => [],
  };
  const out = reader.extract(context, carrier, bounded);
  if (out === context) return undefined;
  const sc = trace.getSpanContext(out);
  if (sc === undefined) return undefined;
  // The API's id check accepts uppercase hex; the span context we hand on must be wire-ready.
  const traceId = normalizeHexId(sc.traceId, 32);
  const spanId = normalizeHexId(sc.spanId, 16);
  if (traceId === undefined || spanId === undefined) return undefined;
  const normalized = traceId === sc.traceId && spanId === sc.spanId ? out : trace.setSpanContext(out, { ...sc, traceId, spanId });
  const inbound: InboundFlags = { traceId, flags: sc.traceFlags & FLAG_SAMPLED };
  return normalized.setValue(INBOUND_FLAGS_KEY, inbound);
}
