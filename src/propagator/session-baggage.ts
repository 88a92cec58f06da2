/**
 * The baggage half of the session propagator: W3C Baggage through the pure codec, with the
 * session entry as the codec's reserved member (validated, last to go to the limits) and the
 * permit rule: the session entry is written only where one of this library's hops (which apply
 * the target policy) or the user allowed it (a hop's permit rides in the context of its own inject
 * call, or on a carrier the hop built: base/carrier-permits.ts), because other libraries' instrumentations call the
 * global propagator for any destination; and only the vetted session's entry (session/context.ts),
 * so that an entry someone else extracted into the context is never forwarded.
 */
import {
  baggageEntryMetadataFromString,
  propagation,
  type Baggage,
  type BaggageEntry,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { BoundedCache } from '../base/bounded-cache.js';
import { carrierPermit } from '../base/carrier-permits.js';
import { SESSION_PERMIT_KEY } from '../base/context-keys.js';
import { guard, log } from '../base/diag.js';
import { bump, sharedState } from '../base/state.js';
import { parseBaggage, serializeBaggage, type BaggageItem } from '../propagation/baggage.js';
import { readHeaderValue } from '../propagation/carrier-values.js';
import type { PropagationLimits } from '../propagation/limits.js';
import { OrderedBaggage } from '../propagation/ordered-baggage.js';
import { holdsSessionEntry, vettedSession } from '../session/context.js';
import { isSessionEntryKey, SESSION_MEMBER, sessionEntryMembers, type SessionEntry } from '../session/entry.js';
import { BAGGAGE, readField, writeField } from './fields.js';

/**
 * Inbound baggage headers up to this length are remembered once parsed: within a session every
 * hop carries the same header, and parsing it is most of an extract's cost.
 */
const CACHEABLE_BAGGAGE_CHARS = 2048;
/** Parsed headers remembered at most. */
const BAGGAGE_CACHE_SIZE = 256;

/** A parsed clean baggage header and what parsing it examined (the counters report it on every hit). */
interface ParsedHeader {
  baggage: OrderedBaggage;
  examinedBytes: number;
  examinedMembers: number;
}

/** Serialized baggage of one Baggage object: without and with its session entry. */
type SerializedBaggage = [string | undefined, string | undefined];

function memberCount(header: string): number {
  if (header.length === 0) return 0;
  let n = 1;
  for (let i = header.indexOf(','); i >= 0; i = header.indexOf(',', i + 1)) n++;
  return n;
}

function metadataText(entry: BaggageEntry): string | undefined {
  if (entry.metadata === undefined || entry.metadata === null) return undefined;
  try {
    const text = entry.metadata.toString();
    return typeof text === 'string' && text.length > 0 ? text : undefined;
  } catch {
    return undefined;
  }
}

/** W3C Baggage carrying the session entry under the permit rule. */
export class SessionBaggage {
  // Only headers that parsed with nothing dropped are kept, so a hit skips no log line.
  private readonly parsedHeaders = new BoundedCache<string, ParsedHeader>(BAGGAGE_CACHE_SIZE);
  // Baggage is immutable (the API's contract; setEntry returns a new one): what it serializes to
  // never changes. Only outputs that dropped nothing are kept, so a hit skips no log line.
  private readonly serialized = new WeakMap<Baggage, SerializedBaggage>();

  constructor(
    private readonly limits: PropagationLimits,
    private readonly alwaysInjectSession: boolean,
  ) {}

  /**
   * Whether the session entry may go out: a hop's permit in the context, this propagator's
   * option, or `init({ globalSessionBaggage })`, a process-wide switch read here so that it also
   * reaches a propagator the application registered itself.
   */
  private sessionPermitted(context: Context): boolean {
    return context.getValue(SESSION_PERMIT_KEY) === true || this.alwaysInjectSession || sharedState().globalSessionBaggage === true;
  }

  /**
   * The session entry to write: the vetted session's (never what else the baggage says, so a
   * received signature does not go on), only where permitted; undefined: left out.
   */
  private sessionToWrite(context: Context): SessionEntry | undefined {
    if (!this.sessionPermitted(context)) return undefined;
    return guard('reading the session failed; the session entry is left out', undefined, vettedSession, context);
  }

  inject(active: Context, carrier: unknown, setter: TextMapSetter): void {
    // A carrier a hop built gets that hop's baggage and session, whoever injects into it.
    const context = carrierPermit(carrier) ?? active;
    const baggage = propagation.getBaggage(context);
    if (baggage === undefined) return;
    const session = this.sessionToWrite(context);
    const slot = session === undefined ? 0 : 1;
    const known = this.serialized.get(baggage)?.[slot];
    // Slot 1 holds the output whose session members are the Baggage's own: it fits only a
    // context whose vetted entry the Baggage holds (contextWithSessionEntry keeps them so).
    if (known !== undefined && (session === undefined || holdsSessionEntry(baggage, session))) {
      if (known.length > 0) writeField(setter, carrier, BAGGAGE, known);
      return;
    }
    const items: BaggageItem[] = [];
    let cacheable = true;
    if (session !== undefined) {
      for (const [key, value] of sessionEntryMembers(session)) items.push({ key, value });
      cacheable = holdsSessionEntry(baggage, session);
    }
    for (const [key, entry] of baggage.getAllEntries()) {
      if (typeof entry !== 'object' || entry === null || typeof entry.value !== 'string') continue;
      // Only the vetted session's members go out: not one that someone else put in the baggage.
      if (isSessionEntryKey(key)) continue;
      const item: BaggageItem = { key, value: entry.value };
      const metadata = metadataText(entry);
      if (metadata !== undefined) item.metadata = metadata;
      items.push(item);
    }
    const header = serializeBaggage(items, this.limits, SESSION_MEMBER);
    // Values are percent-encoded and properties hold no ',': one more member than commas.
    if (cacheable && memberCount(header) === items.length) {
      const cached = this.serialized.get(baggage) ?? [undefined, undefined];
      cached[slot] = header;
      this.serialized.set(baggage, cached);
    }
    if (header.length > 0) writeField(setter, carrier, BAGGAGE, header);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = readField(getter, carrier, BAGGAGE);
    if (raw === undefined || raw === null) return context;
    const header = readHeaderValue(raw, 'list', this.limits.maxScanBytes);
    if (header === undefined) {
      log.debug('baggage header of an unusable type ignored');
      return context;
    }
    const cacheable = header.length <= CACHEABLE_BAGGAGE_CHARS;
    if (cacheable) {
      const hit = this.parsedHeaders.get(header);
      if (hit !== undefined) {
        bump('baggageBytesExamined', hit.examinedBytes);
        bump('baggageMembersExamined', hit.examinedMembers);
        return propagation.setBaggage(context, hit.baggage);
      }
    }
    const { entries, dropped, scanCut, examinedBytes, examinedMembers } = parseBaggage(header, this.limits, SESSION_MEMBER);
    // The inbound header replaces the context's baggage; with nothing valid left there is none.
    if (entries.length === 0) return propagation.deleteBaggage(context);
    // A Map, not a record: keeps header order and makes `__proto__` (a valid token) an ordinary key.
    const baggage = new OrderedBaggage(
      entries.map((item): [string, BaggageEntry] => [
        item.key,
        item.metadata === undefined
          ? { value: item.value }
          : { value: item.value, metadata: baggageEntryMetadataFromString(item.metadata) },
      ]),
    );
    if (cacheable && dropped === 0 && !scanCut) this.parsedHeaders.set(header, { baggage, examinedBytes, examinedMembers });
    return propagation.setBaggage(context, baggage);
  }
}
