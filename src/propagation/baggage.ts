/**
 * W3C Baggage: `key OWS "=" OWS value *( OWS ";" OWS property )` list members separated by ','.
 *
 * Where `@opentelemetry/core` loses valid baggage, this keeps it: empty values (`k=`), members
 * over 4096 bytes (the current spec has no per-member cap, only 64 members / 8192 bytes), values
 * whose percent-encoding is not UTF-8 (they decode to U+FFFD as the spec requires, instead of
 * `decodeURIComponent` throwing the member away), and properties. A malformed member is dropped
 * alone.
 *
 * Inbound work is capped: at most `maxScanBytes` characters and `maxScanMembers` members are
 * examined, whatever the header's size; the shared counters record what was examined.
 */
import { log } from '../base/diag.js';
import { isValidSessionId, SESSION_BAGGAGE_KEY } from '../session/entry.js';
import { CUT_MARK } from './carrier-values.js';
import { bump } from '../base/counters.js';
import { DEFAULT_LIMITS, resolveLimits, type PropagationLimits } from './limits.js';

/** One baggage list member: decoded value, properties as their (encoded) header text. */
export interface BaggageItem {
  /** An RFC 7230 token. */
  key: string;
  /** The percent-decoded value (may be empty). */
  value: string;
  /** Properties without the leading ';', e.g. `p1;p2=v2`, OWS removed, values left encoded. */
  metadata?: string;
}

/** What {@link parseBaggage} found and how much of the header it looked at. */
export interface ParsedBaggage {
  /** Valid members in header order, duplicates and over-limit members removed. */
  entries: BaggageItem[];
  /** Characters of the header examined (at most `maxScanBytes`). */
  examinedBytes: number;
  /** List members examined, empty ones included (at most `maxScanMembers`). */
  examinedMembers: number;
  /** Members examined but not kept (malformed, duplicate, refused session entry, over a limit). */
  dropped: number;
  /** True when part of the header lay beyond the scan window and was never read. */
  scanCut: boolean;
}

const HTAB = 0x09;
const SP = 0x20;
const COMMA = 0x2c;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const PERCENT = 0x25;

// Character classes for the ASCII range, built once: 1 = tchar (RFC 7230 token), 2 = baggage-octet.
const TCHAR = 1;
const OCTET = 2;
const CLASS = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) {
  // baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
  if (c !== 0x22 && c !== COMMA && c !== SEMI && c !== 0x5c) CLASS[c] = (CLASS[c] as number) | OCTET;
}
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  const c = ch.charCodeAt(0);
  CLASS[c] = (CLASS[c] as number) | TCHAR;
}

function is(c: number, cls: number): boolean {
  return c < 128 && ((CLASS[c] as number) & cls) !== 0;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** True when `key` is an RFC 7230 token, the only keys W3C baggage allows. */
export function isBaggageKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if (!is(key.charCodeAt(i), TCHAR)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Percent-encoding

const HEX = '0123456789ABCDEF';
// Decoding is synchronous, so one scratch buffer serves every call; values needing more than
// SCRATCH_MAX bytes (only possible from direct callers) get their own, not a retained giant.
const SCRATCH_MAX = 64 * 1024;
let scratch = Buffer.allocUnsafe(1024);

function bytesFor(n: number): Buffer {
  if (n > SCRATCH_MAX) return Buffer.allocUnsafe(n);
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(n, scratch.length * 2)));
  return scratch;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Whether a code unit may stand for itself in a value: a baggage-octet other than '%'. */
function isPlain(c: number): boolean {
  return c !== PERCENT && is(c, OCTET);
}

/**
 * Percent-encodes a value: UTF-8, every code point outside baggage-octet and '%' itself as
 * `%XX` (uppercase hex). Lone surrogates become U+FFFD. Returns the input when nothing needs it.
 */
export function encodeBaggageValue(value: string): string {
  let i = 0;
  while (i < value.length && isPlain(value.charCodeAt(i))) i++;
  if (i === value.length) return value;
  let out = value.slice(0, i);
  for (; i < value.length; i++) {
    let cp = value.charCodeAt(i);
    if (isPlain(cp)) {
      out += value[i];
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < value.length) {
      const lo = value.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    // UTF-8: the lead byte, then 6-bit continuation bytes.
    if (cp < 0x80) {
      out += pct(cp);
    } else if (cp < 0x800) {
      out += pct(0xc0 | (cp >> 6)) + pct(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += pct(0xe0 | (cp >> 12)) + pct(0x80 | ((cp >> 6) & 0x3f)) + pct(0x80 | (cp & 0x3f));
    } else {
      out += pct(0xf0 | (cp >> 18)) + pct(0x80 | ((cp >> 12) & 0x3f));
      out += pct(0x80 | ((cp >> 6) & 0x3f)) + pct(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

function pct(b: number): string {
  return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** Length of {@link encodeBaggageValue}(value), computed without building it. */
export function encodedLength(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (isPlain(c)) n += 1;
    else if (c < 0x80) n += 3;
    else if (c < 0x800) n += 6;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const lo = value.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        n += 12;
        i++;
      } else n += 9;
    } else n += 9;
  }
  return n;
}

/**
 * Decodes `%XX` escapes of a value as UTF-8; byte sequences that are not UTF-8 become U+FFFD (the
 * spec's MUST). A '%' not followed by two hex digits is kept literally (it is a baggage-octet).
 */
export function decodeBaggageValue(value: string, start = 0, end = value.length): string {
  // A bounded scan, not indexOf: indexOf would run past `end` through the rest of a large header.
  let first = start;
  while (first < end && value.charCodeAt(first) !== PERCENT) first++;
  if (first === end) return value.slice(start, end);
  // Worst case 3 bytes per UTF-16 code unit (non-ASCII input is only possible from direct callers).
  const bytes = bytesFor((end - start) * 3);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === PERCENT && i + 2 < end) {
      const hi = hexDigit(value.charCodeAt(i + 1));
      const lo = hexDigit(value.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    if (c < 0x80) {
      bytes[n++] = c;
    } else {
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < end && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      const width = pair ? 2 : 1;
      const enc = Buffer.from(value.slice(i, i + width), 'utf8'); // lone surrogates -> U+FFFD, as on encode
      bytes.set(enc, n);
      n += enc.length;
      i += width - 1;
    }
  }
  // Buffer's UTF-8 decoder replaces each maximal invalid subpart by U+FFFD (as WHATWG's does) and,
  // unlike TextDecoder's default, keeps a leading U+FEFF that belongs to the value.
  return bytes.toString('utf8', 0, n);
}

// ---------------------------------------------------------------------------------------------
// Properties

/**
 * Validates a property list (`p1;p2=v2`, OWS allowed around ';' and '=') and returns it without
 * OWS, or `undefined` if any property is malformed. Property values stay percent-encoded: the
 * list is carried as opaque metadata and re-emitted byte for byte.
 */
export function normalizeProperties(text: string, start = 0, end = text.length): string | undefined {
  let out = '';
  let i = start;
  for (;;) {
    while (i < end && isOws(text.charCodeAt(i))) i++;
    const ks = i;
    while (i < end && is(text.charCodeAt(i), TCHAR)) i++;
    if (i === ks) return undefined;
    const ke = i;
    while (i < end && isOws(text.charCodeAt(i))) i++;
    let part = text.slice(ks, ke);
    if (i < end && text.charCodeAt(i) === EQUALS) {
      i++;
      while (i < end && isOws(text.charCodeAt(i))) i++;
      const vs = i;
      while (i < end && is(text.charCodeAt(i), OCTET)) i++;
      part += '=' + text.slice(vs, i);
      while (i < end && isOws(text.charCodeAt(i))) i++;
    }
    out += out.length === 0 ? part : ';' + part;
    if (i === end) return out;
    if (text.charCodeAt(i) !== SEMI) return undefined;
    i++;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses one list member in [s, e) (already cut at ',' ), or returns `undefined` if malformed.
 */
function parseMember(h: string, s: number, e: number): BaggageItem | undefined {
  let i = s;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  const ks = i;
  while (i < e && is(h.charCodeAt(i), TCHAR)) i++;
  const ke = i;
  if (ke === ks) return undefined;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  if (i === e || h.charCodeAt(i) !== EQUALS) return undefined;
  i++;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  const vs = i;
  while (i < e && is(h.charCodeAt(i), OCTET)) i++;
  const ve = i;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  let metadata: string | undefined;
  if (i < e) {
    if (h.charCodeAt(i) !== SEMI) return undefined;
    metadata = normalizeProperties(h, i + 1, e);
    if (metadata === undefined) return undefined;
  }
  const item: BaggageItem = { key: h.slice(ks, ke), value: decodeBaggageValue(h, vs, ve) };
  if (metadata !== undefined) item.metadata = metadata;
  return item;
}

/** Serialized size of one member: `key=encoded;metadata`. */
export function memberSize(item: BaggageItem): number {
  return (
    item.key.length + 1 + encodedLength(item.value) + (item.metadata ? 1 + item.metadata.length : 0)
  );
}

type BaggageLimits = Pick<PropagationLimits, 'maxBaggageBytes' | 'maxBaggageMembers'>;

/**
 * Keeps the members that fit both limits, in order, whole; the session entry is placed first in
 * the budget so that user entries never crowd it out. Returns the kept members (input order).
 */
function fitLimits(items: BaggageItem[], limits: BaggageLimits): BaggageItem[] {
  let bytes = -1; // n members need n - 1 commas
  let count = 0;
  const kept = new Array<boolean>(items.length).fill(false);
  const session = items.findIndex((it) => it.key === SESSION_BAGGAGE_KEY);
  const order = session < 0 ? items.keys() : [session, ...Array.from(items.keys()).filter((i) => i !== session)];
  for (const i of order) {
    const size = memberSize(items[i] as BaggageItem) + 1;
    if (count + 1 > limits.maxBaggageMembers || bytes + size > limits.maxBaggageBytes) continue;
    kept[i] = true;
    count++;
    bytes += size;
  }
  return count === items.length ? items : items.filter((_, i) => kept[i]);
}

/**
 * Parses one or more `baggage` header values as one list.
 *
 * - malformed members are dropped alone; the first of repeated keys is kept;
 * - `agentops.session.id`: an invalid session id is dropped; two different values drop every
 *   session entry (which one is genuine cannot be told); equal values keep the first;
 * - limits: members beyond `maxBaggageMembers` or `maxBaggageBytes` (as re-serialized) are dropped
 *   whole, the session entry last; at most `maxScanBytes` characters and `maxScanMembers` members
 *   are examined and a member cut by that window is dropped.
 */
export function parseBaggage(header: string | readonly string[], limits?: Partial<PropagationLimits>): ParsedBaggage {
  const l = limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits);
  const maxScanBytes = l.maxScanBytes;
  const maxScanMembers = l.maxScanMembers;
  const h = typeof header === 'string' ? header : Array.isArray(header) ? joinWindow(header, maxScanBytes) : '';
  const n = h.length;
  const windowEnd = n > maxScanBytes ? maxScanBytes : n;
  let scanCut = n > windowEnd;

  const found: BaggageItem[] = [];
  let examinedMembers = 0;
  let malformed = 0;
  let cutMember = false;
  let sessionValue: string | undefined;
  let sessionConflict = false;
  let pos = 0;
  while (pos <= windowEnd) {
    if (examinedMembers === maxScanMembers) {
      if (pos < n) scanCut = true;
      break;
    }
    let e = pos;
    while (e < windowEnd && h.charCodeAt(e) !== COMMA) e++;
    examinedMembers++;
    // A member that runs into the window's edge, not into a ',' or the header's end, was cut.
    const cut = e === windowEnd && windowEnd < n && h.charCodeAt(e) !== COMMA;
    const item = cut ? undefined : parseMember(h, pos, e);
    if (item === undefined) {
      if (cut) cutMember = true;
      else if (!isBlank(h, pos, e)) malformed++;
    } else if (item.key === SESSION_BAGGAGE_KEY) {
      if (sessionValue !== undefined && sessionValue !== item.value) sessionConflict = true;
      sessionValue ??= item.value;
      found.push(item);
    } else {
      found.push(item);
    }
    pos = e + 1;
  }

  // One log line per header, not per member: a hostile header must not become 512 log calls.
  if (malformed > 0) log.debug(`baggage: ${malformed} malformed members dropped`);
  if (cutMember) log.debug('baggage: the member cut by the scan window was dropped');
  let dropped = malformed + (cutMember ? 1 : 0);
  let invalidSession = false;
  const entries: BaggageItem[] = [];
  const seen = new Set<string>();
  for (const item of found) {
    if (item.key === SESSION_BAGGAGE_KEY) {
      if (sessionConflict) {
        dropped++;
        continue;
      }
      if (!isValidSessionId(item.value)) {
        dropped++;
        invalidSession = true;
        continue;
      }
    }
    if (seen.has(item.key)) {
      dropped++;
      continue;
    }
    seen.add(item.key);
    entries.push(item);
  }
  if (sessionConflict) log.debug('baggage: conflicting session entries, all of them dropped');
  else if (invalidSession) log.debug('baggage: session entry with an invalid session id dropped');

  const fitted = fitLimits(entries, l);
  if (fitted.length < entries.length) {
    dropped += entries.length - fitted.length;
    log.debug(`baggage: ${entries.length - fitted.length} members over the size or count limit dropped`);
  }
  if (scanCut) log.debug(`baggage: header longer than the scan window; the rest was not read`);

  // `pos` is one past the last character looked at (the ',' or the end that closed the member).
  const examinedBytes = pos < windowEnd ? pos : windowEnd;
  bump('baggageBytesExamined', examinedBytes);
  bump('baggageMembersExamined', examinedMembers);
  if (dropped > 0) bump('baggageEntriesDropped', dropped);
  return { entries: fitted, examinedBytes, examinedMembers, dropped, scanCut };
}

function isBlank(h: string, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (!isOws(h.charCodeAt(i))) return false;
  return true;
}

/** Joins header values with ',' but never past `limit` + 1 characters. */
function joinWindow(values: readonly string[], limit: number): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'string') continue;
    out = i === 0 ? v : out + ',' + v;
    if (out.length > limit) return out.slice(0, limit) + CUT_MARK;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serializing

/**
 * Serializes members into a `baggage` header value ('' when nothing is left). Members with a
 * non-token key are dropped; malformed metadata is dropped from its member; a session entry whose
 * value is not a session id is dropped; repeated keys keep the first. The session entry is written
 * first, and members beyond `maxBaggageMembers` / `maxBaggageBytes` are dropped whole, never the
 * session entry while others remain to drop.
 */
export function serializeBaggage(items: Iterable<BaggageItem>, limits?: Partial<BaggageLimits>): string {
  const valid: BaggageItem[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const item of items) {
    const { key, value } = item;
    if (!isBaggageKey(key) || typeof value !== 'string' || seen.has(key)) {
      dropped++;
      continue;
    }
    if (key === SESSION_BAGGAGE_KEY && !isValidSessionId(value)) {
      dropped++;
      log.debug('baggage inject: session entry with an invalid session id not written');
      continue;
    }
    seen.add(key);
    let metadata: string | undefined;
    if (typeof item.metadata === 'string' && item.metadata.length > 0) {
      metadata = normalizeProperties(item.metadata);
      if (metadata === undefined) log.debug(`baggage inject: malformed properties of "${key}" not written`);
    }
    const entry: BaggageItem = { key, value };
    if (metadata !== undefined) entry.metadata = metadata;
    if (key === SESSION_BAGGAGE_KEY) valid.unshift(entry);
    else valid.push(entry);
  }
  const fitted = fitLimits(valid, limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits));
  dropped += valid.length - fitted.length;
  if (dropped > 0) {
    bump('baggageEntriesDropped', dropped);
    log.debug(`baggage inject: ${dropped} members not written (invalid or over a limit)`);
  }
  let out = '';
  for (const item of fitted) {
    if (out.length > 0) out += ',';
    out += `${item.key}=${encodeBaggageValue(item.value)}`;
    if (item.metadata !== undefined) out += ';' + item.metadata;
  }
  return out;
}
