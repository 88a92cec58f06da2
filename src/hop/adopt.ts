import { context as otelContext, trace, type Context, type Span } from '@opentelemetry/api';

/**
 * The span active in `ctx` when one of the named instrumentations started it (by instrumentation
 * scope name, as the OTel SDK records it), so that a hop adopts that span instead of making a
 * second one for the same input. A span from anything else (the user's, a framework's) is not
 * returned: hops must never take over a span they did not expect.
 */
export function activeInstrumentationSpan(scopeNames: readonly string[], ctx: Context = otelContext.active()): Span | undefined {
  const span = trace.getSpan(ctx);
  if (span === undefined || !span.isRecording()) return undefined;
  // SDK 2.x spans expose `instrumentationScope`; 1.x called it `instrumentationLibrary`.
  const holder = span as { instrumentationScope?: { name?: unknown }; instrumentationLibrary?: { name?: unknown } };
  const name = holder.instrumentationScope?.name ?? holder.instrumentationLibrary?.name;
  return typeof name === 'string' && scopeNames.includes(name) ? span : undefined;
}
