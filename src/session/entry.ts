/**
 * The session entry: the session id plus what a rejoining hop needs (the session root's span id
 * and trace flags) and, with a signing key, an HMAC over all of it. On the wire (since 0.2.0)
 * each field is a baggage member of its own, with no W3C properties and only characters that
 * every baggage codec passes through unchanged (docs/session-entry.md says why):
 *
 *   agentops.session.id=<32 hex>,agentops.session.root=<16 hex>,agentops.session.flags=<2 hex>,
 *   agentops.session.sig=v1.<kid>.<exp>.<mac>
 *
 * Read as well: 0.1.0's single member with properties, `agentops.session.id=<id>;root=…;flags=…;sig=…`,
 * and the one value other SDKs turn it into (`<id>%3Broot%3D…`, decoded `<id>;root=…`).
 */

import { BoundedCache } from '../base/bounded-cache.js';
import type { ReservedMember } from '../propagation/baggage.js';

/** The W3C baggage key that carries the AgentOps session id. */
export const SESSION_BAGGAGE_KEY = 'agentops.session.id';
/** The members beside it: the root span id, the trace flags and the signature. */
const ROOT_KEY = 'agentops.session.root';
const FLAGS_KEY = 'agentops.session.flags';
const SIGNATURE_KEY = 'agentops.session.sig';
/** Every member of the session entry, the id first. */
export const SESSION_ENTRY_KEYS: readonly string[] = [SESSION_BAGGAGE_KEY, ROOT_KEY, FLAGS_KEY, SIGNATURE_KEY];
const SESSION_KEY_PREFIX = 'agentops.session.';

/**
 * Whether a baggage key belongs to the session entry: the `agentops.session.` namespace, the
 * fields a later version may add included. Such members go out only as the vetted session's.
 */
export function isSessionEntryKey(key: string): boolean {
  return key.startsWith(SESSION_KEY_PREFIX);
}
/** Longest property text (0.1.0 form) or signature read. */
const MAX_METADATA_CHARS = 512;
const MAX_SIGNATURE_CHARS = 200;

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
  /** Raw signature (`agentops.session.sig`), verified by the hop, not here. */
  signature?: string;
}

/** One baggage member as the entry's readers see it: decoded value, property text if any. */
export interface SessionEntryMember {
  value: string;
  metadata?: string | undefined;
}

/**
 * Reads the entry from the session members of a baggage, given a lookup by key. The 0.1.0 form
 * (properties on the id member, or their percent-encoded value) is read alone: members beside it
 * are not mixed in. Malformed fields are dropped, the id alone still counts; unknown properties are
 * ignored (a later version may add some).
 */
export function readSessionEntry(member: (key: string) => SessionEntryMember | undefined): SessionEntry | undefined {
  const id = member(SESSION_BAGGAGE_KEY);
  if (id === undefined || typeof id.value !== 'string') return undefined;
  const semi = id.value.indexOf(';');
  if (semi >= 0) {
    // 0.1.0's entry as OTel Python, Sentry and others forward it: the properties inside the value.
    if (id.metadata !== undefined && id.metadata.length > 0) return undefined;
    return parseSessionEntry(id.value.slice(0, semi), id.value.slice(semi + 1));
  }
  if (id.metadata !== undefined && id.metadata.length > 0) return parseSessionEntry(id.value, id.metadata);
  if (!isValidSessionId(id.value)) return undefined;
  const entry: SessionEntry = { sessionId: id.value };
  const root = member(ROOT_KEY)?.value;
  if (isValidSpanId(root)) entry.rootSpanId = root;
  const flags = member(FLAGS_KEY)?.value;
  if (typeof flags === 'string' && HEX2.test(flags)) entry.traceFlags = parseInt(flags, 16);
  const signature = member(SIGNATURE_KEY)?.value;
  if (typeof signature === 'string' && signature.length > 0 && signature.length <= MAX_SIGNATURE_CHARS) entry.signature = signature;
  return entry;
}

/** Whether a decoded `agentops.session.id` value may stand: a session id, or 0.1.0's entry forwarded as one value. */
function isSessionIdValue(value: string): boolean {
  if (value.length === 32) return isValidSessionId(value);
  return (
    value.length > 33 && value.length <= 33 + MAX_METADATA_CHARS && value.charCodeAt(32) === 0x3b && isValidSessionId(value.slice(0, 32))
  );
}

/** The entry's member values in {@link SESSION_ENTRY_KEYS} order; undefined: the field is absent. */
function sessionEntryValues(entry: SessionEntry): (string | undefined)[] {
  const flags = entry.traceFlags === undefined ? undefined : (entry.traceFlags & 0xff).toString(16).padStart(2, '0');
  return [entry.sessionId, entry.rootSpanId, flags, entry.signature];
}

/** The entry's baggage members, `[key, value]`, the id first; absent fields have no member. */
export function sessionEntryMembers(entry: SessionEntry): [string, string][] {
  const members: [string, string][] = [];
  sessionEntryValues(entry).forEach((value, i) => {
    if (value !== undefined) members.push([SESSION_ENTRY_KEYS[i] as string, value]);
  });
  return members;
}

/** Reads 0.1.0's entry from the id and its property string. */
function parseSessionEntry(value: string, metadata: string): SessionEntry | undefined {
  // Every hop of a session reads the same entry again: remember the entries parsed recently.
  const key = `${value};${metadata}`;
  const known = parsedEntries.get(key);
  if (known !== undefined) return known === null ? undefined : { ...known };
  const entry = parseUncached(value, metadata);
  parsedEntries.set(key, entry === undefined ? null : { ...entry });
  return entry;
}

/** Entries parsed recently, by `value;metadata` (null: not an entry). */
const parsedEntries = new BoundedCache<string, SessionEntry | null>(256);

function parseUncached(value: string, metadata: string): SessionEntry | undefined {
  if (!isValidSessionId(value)) return undefined;
  const entry: SessionEntry = { sessionId: value };
  if (metadata.length > MAX_METADATA_CHARS) return entry;
  for (const part of metadata.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (name === 'root' && isValidSpanId(val)) entry.rootSpanId = val;
    else if (name === 'flags' && HEX2.test(val)) entry.traceFlags = parseInt(val, 16);
    else if (name === 'sig' && val.length > 0 && val.length <= MAX_SIGNATURE_CHARS) entry.signature = val;
  }
  return entry;
}

/**
 * The session entry as the baggage codec's reserved member: validated, written first with the
 * other session members right after it, and dropped last.
 */
export const SESSION_MEMBER: ReservedMember = {
  key: SESSION_BAGGAGE_KEY,
  isValid: isSessionIdValue,
  companions: SESSION_ENTRY_KEYS.slice(1),
};
