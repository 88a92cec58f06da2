/**
 * The inbound decision: extract the caller's context, check its signature, apply trust, pick the
 * shape. Separate from span creation so that batch consumers can decide for each message without
 * starting a span.
 */
import {
  context as otelContext,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Link,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { guard, log } from '../base/diag.js';
import { bump } from '../base/state.js';
import { verifySessionEntry } from '../policy/signing.js';
import type { TrustMode } from '../policy/trust.js';
import { ATTR } from '../session/attributes.js';
import { contextWithSessionEntry, getSessionEntry, sessionRootSpanContext } from '../session/context.js';
import { SESSION_BAGGAGE_KEY, type SessionEntry } from '../session/entry.js';
import { hopKeyring, hopPropagator } from './propagator.js';
import type { HopShape, InboundHopOptions, ResolvedInbound } from './types.js';

/** A new root span in `parentContext`, linked to `links`. */
function rootDecision(
  parentContext: Context,
  links: Link[],
  session: SessionEntry | undefined,
  caller: SpanContext | undefined,
  trust: TrustMode,
): ResolvedInbound {
  return { parentContext, root: true, links, session, caller, trust, shape: 'root' };
}

/** A span under `parent` (the caller's span, or the session root). */
function childDecision(
  ctx: Context,
  parent: SpanContext,
  links: Link[],
  session: SessionEntry | undefined,
  caller: SpanContext | undefined,
  trust: TrustMode,
  shape: HopShape,
): ResolvedInbound {
  return { parentContext: trace.setSpanContext(ctx, parent), root: false, links, session, caller, trust, shape };
}

function extractWith(propagator: TextMapPropagator, clean: Context, carrier: unknown, getter: TextMapGetter): Context {
  return propagator.extract(clean, carrier, getter);
}

/** The span context that carries no parent: the base without baggage or span (each deletion copies, so only when present). */
function withoutParent(base: Context): Context {
  let clean = base;
  if (propagation.getBaggage(clean) !== undefined) clean = propagation.deleteBaggage(clean);
  if (trace.getSpan(clean) !== undefined) clean = trace.deleteSpan(clean);
  return clean;
}

/**
 * The decision half of an inbound hop: extract, check signatures, apply trust, pick the shape.
 * Never throws.
 */
export function resolveInbound<Carrier>(options: Omit<InboundHopOptions<Carrier>, 'spanName'>): ResolvedInbound {
  // Without this the SDK would parent our span under whatever span is active (a framework's).
  const clean = withoutParent(options.parentContext ?? otelContext.active());
  let trust = options.trust;
  if (trust === 'ignore') {
    bump('droppedInbound');
    return rootDecision(clean, [], undefined, undefined, trust);
  }

  // The propagator may be the user's: guarded, like every hook.
  const extracted = guard(
    'inbound extract failed; the input is treated as carrying no context',
    clean,
    extractWith,
    hopPropagator(options.propagator),
    clean,
    options.carrier,
    options.getter as TextMapGetter,
  );
  const callerContext = trace.getSpanContext(extracted);
  const caller = callerContext !== undefined && isSpanContextValid(callerContext) ? callerContext : undefined;
  let session = getSessionEntry(extracted);

  const keyring = hopKeyring(options.signing);
  if (keyring !== undefined) {
    if (session !== undefined) {
      const verdict = verifySessionEntry(session, keyring);
      if (verdict !== 'valid') {
        log.warn(`inbound session entry refused: ${verdict}`);
        bump('droppedInbound');
        session = undefined;
      }
    }
    // A valid signature vouches for the caller, wherever it connects from.
    if (session !== undefined && trust === 'link') trust = 'trust';
    // A traceparent not backed by a signed entry of its own trace is only linked.
    if (trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';
  }
  if (options.linkWithoutSession === true && trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';

  const callerLinks: Link[] = caller !== undefined ? [{ context: caller, attributes: { [ATTR.linkType]: 'predecessor' } }] : [];
  if (trust === 'link') {
    if (session !== undefined || propagation.getBaggage(extracted) !== undefined) bump('droppedInbound');
    return rootDecision(clean, callerLinks, undefined, caller, trust);
  }

  // Trusted: keep the caller's baggage (the session entry among it, re-validated).
  if (session === undefined) {
    let ctx = extracted;
    const bag = propagation.getBaggage(ctx);
    if (bag?.getEntry(SESSION_BAGGAGE_KEY) !== undefined) ctx = propagation.setBaggage(ctx, bag.removeEntry(SESSION_BAGGAGE_KEY));
    if (caller === undefined)
      return rootDecision(trace.getSpan(ctx) === undefined ? ctx : trace.deleteSpan(ctx), [], session, caller, trust);
    return childDecision(ctx, caller, [], session, caller, trust, 'parent');
  }
  const ctx = contextWithSessionEntry(extracted, session);
  // Parent only when the caller's span is in the session's trace: a span outside that trace is
  // outside the session, so anything else rejoins.
  if (options.shape !== 'rejoin' && caller !== undefined && caller.traceId === session.sessionId) {
    return childDecision(ctx, caller, [], session, caller, trust, 'parent');
  }
  if (session.rootSpanId === undefined) log.debug('session entry carries no root span id; rejoining under a stand-in parent');
  return childDecision(ctx, sessionRootSpanContext(session, caller?.traceFlags), callerLinks, session, caller, trust, 'rejoin');
}
