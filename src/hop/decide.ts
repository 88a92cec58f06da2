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
import { layeredOver } from '../base/layered-context.js';
import { bump } from '../base/state.js';
import { verifySessionEntry } from '../policy/signing.js';
import type { TrustMode } from '../policy/trust.js';
import { ATTR } from '../session/attributes.js';
import {
  baggageSessionEntry,
  contextWithVettedSession,
  sessionRootSpanContext,
  withoutSessionMembers,
  withoutSignature,
  withoutVettedSession,
} from '../session/context.js';
import type { SessionEntry } from '../session/entry.js';
import { hopKeyring, hopPropagator } from './propagator.js';
import type { HopShape, InboundHopOptions, ResolvedInbound } from './types.js';

/** A new root span in `parentContext`, linked to `links`. */
function rootDecision(
  parentContext: Context,
  links: Link[],
  session: SessionEntry | undefined,
  caller: SpanContext | undefined,
  trust: TrustMode,
  refused?: ResolvedInbound['refused'],
): ResolvedInbound {
  const decision: ResolvedInbound = { parentContext, root: true, links, session, caller, trust, shape: 'root' };
  if (refused !== undefined) decision.refused = refused;
  return decision;
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
  refused?: ResolvedInbound['refused'],
): ResolvedInbound {
  // The extracted context usually holds the caller already: each write copies.
  const parentContext = trace.getSpanContext(ctx) === parent ? ctx : trace.setSpanContext(ctx, parent);
  const decision: ResolvedInbound = { parentContext, root: false, links, session, caller, trust, shape };
  if (refused !== undefined) decision.refused = refused;
  return decision;
}

/** The link to the caller's span that a new trace or a rejoining span carries (none without a caller). */
function callerLinks(caller: SpanContext | undefined): Link[] {
  return caller !== undefined ? [{ context: caller, attributes: { [ATTR.linkType]: 'predecessor' } }] : [];
}

function extractWith(propagator: TextMapPropagator, clean: Context, carrier: unknown, getter: TextMapGetter): Context {
  return propagator.extract(clean, carrier, getter);
}

/**
 * The context that carries no parent: the base without baggage, span or vetted session (each
 * deletion copies, so only when present). What surrounds the hop (a framework's span, an entry
 * another instrumentation extracted, the session of the code that called the hop) must not leak
 * into the decision.
 */
function withoutParent(base: Context): Context {
  let clean = withoutVettedSession(base);
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
  // Every context the hop builds is a layer over this one (see layered-context).
  const clean = withoutParent(layeredOver(options.parentContext ?? otelContext.active()));
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
  let session = baggageSessionEntry(extracted);

  const keyring = hopKeyring(options.signing);
  // Whether the caller's baggage other than the session entry may be kept: only under `trust`,
  // and with a key only beside a validly signed entry (with or without traceparent).
  let keepCallerBaggage = true;
  let refused: ResolvedInbound['refused'];
  if (keyring !== undefined) {
    if (session !== undefined) {
      const verdict = verifySessionEntry(session, keyring);
      if (verdict !== 'valid') {
        refused = verdict;
        log.warn(`inbound session entry refused: ${verdict}`);
        bump('droppedInbound');
        session = undefined;
      }
    }
    if (session === undefined) keepCallerBaggage = false;
    // A valid signature vouches for the session entry, and only where the route opted in does it
    // vouch for a caller the policy links; the rest of that caller's baggage stays unvouched.
    else if (trust === 'link' && options.signedUpgrade === true) {
      trust = 'trust';
      keepCallerBaggage = false;
    }
    // A traceparent not backed by a signed entry of its own trace is only linked.
    if (trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';
  }
  if (options.linkWithoutSession === true && trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';

  if (trust === 'link') {
    if (session !== undefined || propagation.getBaggage(extracted) !== undefined) {
      bump('droppedInbound');
      refused ??= 'untrusted';
    }
    return rootDecision(clean, callerLinks(caller), undefined, caller, trust, refused);
  }

  // Trusted: keep the caller's baggage where allowed (the session entry among it, re-validated).
  let base = withoutVettedSession(extracted);
  if (!keepCallerBaggage && propagation.getBaggage(base) !== undefined) {
    log.debug('caller baggage dropped: it is kept only under trust, and with a key only beside a validly signed session entry');
    base = propagation.deleteBaggage(base);
  }
  if (session === undefined) {
    let ctx = base;
    const kept = propagation.getBaggage(ctx);
    if (kept !== undefined) {
      const withoutSession = withoutSessionMembers(kept);
      if (withoutSession !== kept) ctx = propagation.setBaggage(ctx, withoutSession);
    }
    if (caller === undefined)
      return rootDecision(trace.getSpan(ctx) === undefined ? ctx : trace.deleteSpan(ctx), [], session, caller, trust, refused);
    return childDecision(ctx, caller, [], session, caller, trust, 'parent', refused);
  }
  // The entry is vetted from here on, with the sender's signature dropped: hops sign afresh.
  session = withoutSignature(session);
  const ctx = contextWithVettedSession(base, session);
  // Parent only when the caller's span is in the session's trace: a span outside that trace is
  // outside the session, so anything else rejoins.
  if (options.shape !== 'rejoin' && caller !== undefined && caller.traceId === session.sessionId) {
    return childDecision(ctx, caller, [], session, caller, trust, 'parent');
  }
  if (session.rootSpanId === undefined) log.debug('session entry carries no root span id; rejoining under a stand-in parent');
  return childDecision(ctx, sessionRootSpanContext(session, caller?.traceFlags), callerLinks(caller), session, caller, trust, 'rejoin');
}
