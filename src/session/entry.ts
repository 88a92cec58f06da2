/**
 * The `agentops.session.id` baggage entry: the session id plus what a rejoining hop needs (the
 * session root's span id and trace flags) and, with a signing key, an HMAC over all of it.
 *
 *   agentops.session.id=<32 hex>;root=<16 hex>;flags=<2 hex>;sig=v1.<kid>.<exp>.<mac>
 */

import { BoundedCache } from '../base/bounded-cache.js';
import type { ReservedMember } from '../propagation/baggage.js';

/** The W3C baggage key that carries the AgentOps session id. */
export const SESSION_BAGGAGE_KEY = 'agentops.session.id';

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX2 = /^[0-9a-f]{2}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** A session id is a W3C trace id: 32 lowercase hex characters, not all zeros. */
export function isValidSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length === 32 && HEX32.test(value) && value !== ZERO32;
}

/** A W3C span id: 16 lowercase hex characters, not all zeros. */
export function isValidSpanId(value: unknown): value is string {
  return typeof value === 'string' && value.length === 16 && HEX16.test(value) && value !== ZERO16;
}

/** The parsed session entry. */
export interface SessionEntry {
  /** The session id (= the session's trace id). */
  sessionId: string;
  /** Span id of the session's root span, when the sender knew it. */
  rootSpanId?: string;
  /** W3C trace flags of the session root (sampled and random bits). */
  traceFlags?: number;
  /** Raw `sig` property, verified by the hop, not here. */
  signature?: string;
}

/**
 * Reads the entry from a baggage value and its property string. Unknown properties are ignored
 * (a later version may add some); malformed known ones are dropped, the id alone still counts.
 */
export function parseSessionEntry(value: string, metadata: string | undefined): SessionEntry | undefined {
  // Every hop of a session reads the same entry again: remember the entries parsed recently.
  const key = metadata === undefined ? value : `${value};${metadata}`;
  const known = parsedEntries.get(key);
  if (known !== undefined) return known === null ? undefined : { ...known };
  const entry = parseUncached(value, metadata);
  parsedEntries.set(key, entry === undefined ? null : { ...entry });
  return entry;
}

/** Entries parsed recently, by `value;metadata` (null: not an entry). */
const parsedEntries = new BoundedCache<string, SessionEntry | null>(256);

function parseUncached(value: string, metadata: string | undefined): SessionEntry | undefined {
  if (!isValidSessionId(value)) return undefined;
  const entry: SessionEntry = { sessionId: value };
  if (metadata === undefined || metadata.length === 0 || metadata.length > 512) return entry;
  for (const part of metadata.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (name === 'root' && isValidSpanId(val)) entry.rootSpanId = val;
    else if (name === 'flags' && HEX2.test(val)) entry.traceFlags = parseInt(val, 16);
    else if (name === 'sig' && val.length > 0 && val.length <= 200) entry.signature = val;
  }
  return entry;
}

/** The property string (without the leading `;`) for an entry. */
export function formatSessionEntryMetadata(entry: SessionEntry): string {
  const parts: string[] = [];
  if (entry.rootSpanId !== undefined) parts.push(`root=${entry.rootSpanId}`);
  if (entry.traceFlags !== undefined) parts.push(`flags=${(entry.traceFlags & 0xff).toString(16).padStart(2, '0')}`);
  if (entry.signature !== undefined) parts.push(`sig=${entry.signature}`);
  return parts.join(';');
}

/** The session entry as the baggage codec's reserved member: validated, written first, dropped last. */
export const SESSION_MEMBER: ReservedMember = { key: SESSION_BAGGAGE_KEY, isValid: isValidSessionId };
