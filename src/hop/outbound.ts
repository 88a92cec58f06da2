/**
 * The outbound hop: the CLIENT or PRODUCER span, and the injection of its context (with the
 * session entry permitted, and signed afresh when a key is set) into a carrier the adapter copied.
 */
import {
  context as otelContext,
  defaultTextMapSetter,
  SpanKind,
  trace,
  type Context,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { permitCarrier } from '../base/carrier-permits.js';
import { INJECT_FIELDS_KEY, SESSION_PERMIT_KEY, type InjectFields } from '../base/context-keys.js';
import { guard } from '../base/diag.js';
import { warnIfNotInitialised } from '../base/init-warning.js';
import { applyOutcome } from '../base/span-outcome.js';
import { sharedState } from '../base/state.js';
import { tracer } from '../base/tracer.js';
import type { SigningKeyring } from '../policy/signing.js';
import { contextWithSessionEntry, vettedSession } from '../session/context.js';
import type { SessionEntry } from '../session/entry.js';
import { hopKeyring, hopPropagator } from './propagator.js';
import { signedEntry } from './signature-cache.js';
import type { OutboundHop, OutboundHopOptions } from './types.js';

/**
 * The context an outbound hop injects: the vetted session's entry permitted, and signed afresh
 * with a key (never a signature it received). An entry that is not vetted is inert: the
 * propagator leaves it out.
 */
function outboundInjectContext(ctx: Context, signing: SigningKeyring | null | undefined, fields?: InjectFields): Context {
  let out = ctx.setValue(SESSION_PERMIT_KEY, true);
  if (fields !== undefined) out = out.setValue(INJECT_FIELDS_KEY, fields);
  const entry = vettedSession(ctx);
  if (entry === undefined) return out;
  // A session started in this process is known by its root; an entry that lost it gets it back.
  const known = sharedState().sessions.get(entry.sessionId);
  const complete: SessionEntry = { sessionId: entry.sessionId };
  const rootSpanId = entry.rootSpanId ?? known?.rootSpanId;
  const traceFlags = entry.traceFlags ?? known?.traceFlags;
  if (rootSpanId !== undefined) complete.rootSpanId = rootSpanId;
  if (traceFlags !== undefined) complete.traceFlags = traceFlags;
  const keyring = hopKeyring(signing);
  return contextWithSessionEntry(out, keyring === undefined ? complete : signedEntry(complete, keyring));
}

function injectWith(propagator: TextMapPropagator, ctx: Context, carrier: unknown, setter: TextMapSetter): void {
  propagator.inject(ctx, carrier, setter);
}

/**
 * Outbound hop: start the CLIENT/PRODUCER span and inject its context (with the session entry,
 * signed when a key is set) into a carrier the adapter copied. Never throws.
 */
export function startOutboundHop(options: OutboundHopOptions): OutboundHop {
  warnIfNotInitialised();
  const base = options.parentContext ?? otelContext.active();
  const span =
    options.startSpan === false
      ? undefined
      : tracer().startSpan(
          options.spanName,
          { kind: options.kind ?? SpanKind.CLIENT, ...(options.attributes ? { attributes: options.attributes } : {}) },
          base,
        );
  const ctx = span === undefined ? base : trace.setSpan(base, span);
  const propagator = hopPropagator(options.propagator);
  // Built once per hop, on the first carrier it permits (a send of many messages permits many).
  let permitContext: Context | undefined;
  let done = false;
  const hop: OutboundHop = {
    span,
    context: ctx,
    inject(carrier, setter, fields) {
      const injected = outboundInjectContext(ctx, options.signing, fields);
      guard(
        'outbound inject failed; the message goes without context',
        undefined,
        injectWith,
        propagator,
        injected,
        carrier,
        (setter ?? defaultTextMapSetter) as TextMapSetter,
      );
    },
    permit(carrier) {
      permitContext ??= outboundInjectContext(ctx, options.signing);
      permitCarrier(carrier, permitContext);
    },
    fields(fields) {
      const out: Record<string, string> = {};
      hop.inject(out, defaultTextMapSetter, fields);
      return out;
    },
    end(outcome) {
      if (done || span === undefined) return;
      done = true;
      applyOutcome(span, outcome);
      span.end();
    },
  };
  return hop;
}
