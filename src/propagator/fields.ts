/**
 * Carrier access for the propagator's members. Getters and setters are the caller's code (any
 * instrumentation's, any user's): each call goes through the library's guard, so a throwing
 * carrier loses one header, never the request.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { guard } from '../base/diag.js';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';
export const BAGGAGE = 'baggage';

function get(getter: TextMapGetter, carrier: unknown, key: string): unknown {
  return getter.get(carrier, key);
}

function set(setter: TextMapSetter, carrier: unknown, key: string, value: string): void {
  setter.set(carrier, key, value);
}

/** One field of the carrier as the getter returns it, or undefined when the getter throws. */
export function readField(getter: TextMapGetter, carrier: unknown, key: string): unknown {
  return guard('carrier getter threw; the field is treated as absent', undefined, get, getter, carrier, key);
}

/** Writes one field; a throwing setter loses that field only. */
export function writeField(setter: TextMapSetter, carrier: unknown, key: string, value: string): void {
  guard('carrier setter threw; the field is not written', undefined, set, setter, carrier, key, value);
}
