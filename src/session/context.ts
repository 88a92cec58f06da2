/**
 * A session in a Context: the session entry in the baggage (with the inbound-flags slot that
 * keeps the W3C random bit), the vetting mark that makes it the context's session, and the span
 * context of the session's root that rejoining hops parent under.
 */
import { context as otelContext, propagation, TraceFlags, type Baggage, type Context, type SpanContext } from '@opentelemetry/api';
import { INBOUND_FLAGS_KEY, VETTED_SESSION_KEY, type InboundFlags } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { randomHexId } from '../base/ids.js';
import {
  isSessionEntryKey,
  isValidSessionId,
  isValidSpanId,
  readSessionEntry,
  SESSION_BAGGAGE_KEY,
  SESSION_ENTRY_KEYS,
  sessionEntryMembers,
  type SessionEntry,
} from './entry.js';

/** Same session fields (the signature included: an outbound hop's context carries its own). */
function sameEntry(a: SessionEntry, b: SessionEntry): boolean {
  return a.sessionId === b.sessionId && a.rootSpanId === b.rootSpanId && a.traceFlags === b.traceFlags && a.signature === b.signature;
}

/**
 * Builds a context in which `entry` is the vetted session: its baggage entry is set (other
 * entries of `base` are kept), the vetting mark holds it, and the inbound-flags slot carries the
 * session's flags so that outbound traceparents keep the W3C random bit. The one writer of the
 * mark: callers are the library's own paths (startSession/withSession, an accepted inbound hop,
 * an outbound hop's freshly signed entry) and {@link contextWithVettedSession}.
 */
export function contextWithSessionEntry(base: Context, entry: SessionEntry): Context {
  const current = propagation.getBaggage(base);
  let ctx = base;
  // The same entry already there (every hop of a session): keep that Baggage, whose serialized
  // form the propagator has already cached.
  if (current === undefined || !holdsSessionEntry(current, entry)) ctx = propagation.setBaggage(base, baggageWithEntry(current, entry));
  const vetted = ctx.getValue(VETTED_SESSION_KEY) as SessionEntry | undefined;
  if (vetted === undefined || !sameEntry(vetted, entry))
    ctx = ctx.setValue(VETTED_SESSION_KEY, Object.isFrozen(entry) ? entry : Object.freeze({ ...entry }));
  if (entry.traceFlags !== undefined) {
    // Usually already there, from the traceparent of the same trace: each set copies the context.
    const present = ctx.getValue(INBOUND_FLAGS_KEY) as InboundFlags | undefined;
    if (present?.traceId !== entry.sessionId || present.flags !== entry.traceFlags) {
      const flags: InboundFlags = { traceId: entry.sessionId, flags: entry.traceFlags };
      ctx = ctx.setValue(INBOUND_FLAGS_KEY, flags);
    }
  }
  return ctx;
}

/**
 * The Baggage last derived from a Baggage for an entry: an accepted signed entry (stored without
 * its signature) and an outbound hop's freshly signed one are set on the same Baggage again and
 * again, and the result is immutable like its source.
 */
const derivedBaggages = new WeakMap<Baggage, { entry: SessionEntry; baggage: Baggage }>();

/** `current` (or an empty Baggage) with the entry's members in place of any session members. */
function baggageWithEntry(current: Baggage | undefined, entry: SessionEntry): Baggage {
  const known = current === undefined ? undefined : derivedBaggages.get(current);
  if (known !== undefined && sameEntry(known.entry, entry)) return known.baggage;
  let baggage = withoutSessionMembers(current ?? propagation.createBaggage());
  for (const [key, value] of sessionEntryMembers(entry)) baggage = baggage.setEntry(key, { value });
  if (current !== undefined) derivedBaggages.set(current, { entry: { ...entry }, baggage });
  return baggage;
}

/**
 * A context in which `entry`, received from elsewhere and vouched for by the caller (an accepted
 * inbound hop, an adapter author through the hop engine), is the vetted session. Only the
 * session fields are kept: a received signature is never carried on (outbound hops sign afresh),
 * and malformed fields are dropped as the parser would. An entry without a valid session id
 * leaves `base` as it is.
 */
export function contextWithVettedSession(base: Context, entry: SessionEntry): Context {
  // An unsigned entry this module read and froze has only valid fields already.
  if (readEntries.has(entry) && entry.signature === undefined) return contextWithSessionEntry(base, entry);
  if (typeof entry !== 'object' || entry === null || !isValidSessionId(entry.sessionId)) {
    log.warn('contextWithVettedSession: not a session entry (sessionId must be 32 lowercase hex, not all zeros); context unchanged');
    return base;
  }
  const fields: SessionEntry = { sessionId: entry.sessionId };
  if (isValidSpanId(entry.rootSpanId)) fields.rootSpanId = entry.rootSpanId;
  const flags = entry.traceFlags;
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xff) fields.traceFlags = flags;
  return contextWithSessionEntry(base, fields);
}

/**
 * The entry a Baggage holds in the current form (id and fields as members without properties),
 * or null. Baggage is immutable (the API's contract: setEntry returns a new one), and every hop
 * of a session sees the same parsed Baggage again (the propagator caches parses): read once.
 */
const currentFormEntries = new WeakMap<Baggage, Readonly<SessionEntry> | null>();
/** The frozen entries {@link currentFormEntry} made: every field valid as the reader checks it. */
const readEntries = new WeakSet<object>();

function currentFormEntry(baggage: Baggage): Readonly<SessionEntry> | null {
  let known = currentFormEntries.get(baggage);
  if (known === undefined) {
    let plain = true;
    for (const key of SESSION_ENTRY_KEYS) if (baggage.getEntry(key)?.metadata !== undefined) plain = false;
    const entry = plain
      ? readSessionEntry((key) => {
          const member = baggage.getEntry(key);
          return member && { value: member.value };
        })
      : undefined;
    // Only an entry whose every member was read back (a malformed field was not dropped).
    known = entry !== undefined && countSessionMembers(baggage) === sessionEntryMembers(entry).length ? Object.freeze(entry) : null;
    if (known !== null) readEntries.add(known);
    currentFormEntries.set(baggage, known);
  }
  return known;
}

function countSessionMembers(baggage: Baggage): number {
  let n = 0;
  for (const key of SESSION_ENTRY_KEYS) if (baggage.getEntry(key) !== undefined) n++;
  return n;
}

/**
 * Whether `baggage` holds exactly `entry`'s members, in the current form (no 0.1.0 properties):
 * then its serialized form already says what the entry would.
 */
export function holdsSessionEntry(baggage: Baggage, entry: SessionEntry): boolean {
  const held = currentFormEntry(baggage);
  return held !== null && sameEntry(held, entry);
}

/** Unsigned copies of the entries {@link currentFormEntry} read, by entry. */
const unsignedCopies = new WeakMap<object, Readonly<SessionEntry>>();

/**
 * `entry` without its signature: what an accepted inbound entry becomes once its signature has
 * been checked (hops sign afresh). For an entry read from a Baggage, the copy is made once.
 */
export function withoutSignature(entry: Readonly<SessionEntry>): Readonly<SessionEntry> {
  if (entry.signature === undefined) return entry;
  const known = unsignedCopies.get(entry);
  if (known !== undefined) return known;
  const { signature: _signature, ...fields } = entry;
  if (!readEntries.has(entry)) return fields;
  const copy = Object.freeze(fields);
  readEntries.add(copy);
  unsignedCopies.set(entry, copy);
  return copy;
}

/** `baggage` without any member of the session entry ({@link isSessionEntryKey}). */
export function withoutSessionMembers(baggage: Baggage): Baggage {
  const keys: string[] = [];
  for (const [key] of baggage.getAllEntries()) if (isSessionEntryKey(key)) keys.push(key);
  return keys.length === 0 ? baggage : baggage.removeEntries(...keys);
}

/** `ctx` without a vetting mark (a hop deciding afresh must not inherit the surrounding session's). */
export function withoutVettedSession(ctx: Context): Context {
  return ctx.getValue(VETTED_SESSION_KEY) === undefined ? ctx : ctx.deleteValue(VETTED_SESSION_KEY);
}

/**
 * The session entry in a context's baggage, validated, whoever put it there: what an inbound hop
 * extracted and is about to decide on. Nothing else may act on it; see {@link getSessionEntry}.
 */
export function baggageSessionEntry(ctx: Context): Readonly<SessionEntry> | undefined {
  const baggage = propagation.getBaggage(ctx);
  if (baggage === undefined) return undefined;
  const held = currentFormEntry(baggage);
  if (held !== null) return held;
  return readSessionEntry((key) => {
    const member = baggage.getEntry(key);
    return member === undefined ? undefined : { value: member.value, metadata: member.metadata?.toString() };
  });
}

let unvettedReported = false;

/** Says once per process why an entry is ignored: per request it would flood the log. */
function reportUnvetted(): void {
  if (unvettedReported) return;
  unvettedReported = true;
  log.warn(
    "a session entry in the context was not vetted by this library (it came from the global propagator's extract called by " +
      'another instrumentation, or from user code; not from an inbound hop, startSession/withSession or the hop engine): it is ' +
      'ignored, neither stamped on spans nor signed nor forwarded. A process with no public ingress can opt in with ' +
      'init({ vetGlobalExtract: true }). Reported once.',
  );
}

/**
 * The vetted session of a context: the vetting mark, when the baggage still carries that
 * session's entry (user code that removed or replaced the entry left the session). A session
 * entry without the mark is inert, and reported once.
 */
export function vettedSession(ctx: Context): SessionEntry | undefined {
  const value = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY)?.value;
  if (value === undefined) return undefined;
  const vetted = ctx.getValue(VETTED_SESSION_KEY) as SessionEntry | undefined;
  if (typeof vetted === 'object' && vetted !== null && vetted.sessionId === value) return vetted;
  if (isValidSessionId(value)) reportUnvetted();
  return undefined;
}

/**
 * Whether `ctx` holds a session entry this library did not vet (another instrumentation's global
 * extract put it there): the rule of {@link vettedSession}, without its once-per-process report.
 */
export function holdsUnvettedEntry(ctx: Context): boolean {
  const value = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY)?.value;
  if (value === undefined) return false;
  return (ctx.getValue(VETTED_SESSION_KEY) as SessionEntry | undefined)?.sessionId !== value;
}

/** The vetted session entry of a context (default: the active one), or undefined; see {@link vettedSession}. */
export function getSessionEntry(ctx: Context = otelContext.active()): SessionEntry | undefined {
  const vetted = vettedSession(ctx);
  return vetted === undefined ? undefined : { ...vetted };
}

/** The vetted session id of a context (default: the active one); undefined outside sessions. */
export function getSessionId(ctx: Context = otelContext.active()): string | undefined {
  return vettedSession(ctx)?.sessionId;
}

/**
 * The span context of a session's root, as a remote parent: hops that rejoin the session start
 * under it. Without the root's span id (an entry from an older sender, an id started elsewhere)
 * a random stand-in parent keeps the work in the session's trace. Only the sampled bit is kept:
 * the SDK carries no other flag on a parent.
 */
export function sessionRootSpanContext(entry: SessionEntry, fallbackFlags: number = TraceFlags.SAMPLED): SpanContext {
  return {
    traceId: entry.sessionId,
    spanId: entry.rootSpanId ?? randomHexId(8),
    traceFlags: (entry.traceFlags ?? fallbackFlags) & TraceFlags.SAMPLED,
    isRemote: true,
  };
}
