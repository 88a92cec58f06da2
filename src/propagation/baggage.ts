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
 *
 * The codec knows no AgentOps rule: a caller may name one {@link ReservedMember} (the session
 * propagator names its session entry) whose value must pass a check and which is the last member
 * given up to the limits.
 */
import { log } from '../base/diag.js';
import { bump } from '../base/state.js';
import {
  decodeBaggageValue,
  encodeBaggageValue,
  encodedLength,
  isBaggageOctet,
  isTokenChar,
  normalizeProperties,
} from './baggage-encoding.js';
import { CUT_MARK } from './carrier-values.js';
import { COMMA, EQUALS, isOws, SEMI } from './chars.js';
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
  /** Members examined but not kept (malformed, duplicate, refused reserved member, over a limit). */
  dropped: number;
  /** True when part of the header lay beyond the scan window and was never read. */
  scanCut: boolean;
}

/**
 * One key a caller gives special standing: a member of that key is kept only when `isValid`
 * accepts its value; repeated members with different values are all dropped (which one is
 * genuine cannot be told); it is serialized first and is the last member dropped by the limits.
 */
export interface ReservedMember {
  /** The baggage key. */
  key: string;
  /** Whether a (decoded) value may stand. */
  isValid(value: string): boolean;
  /**
   * Keys that belong with it (default none): serialized right after it and, by the limits, given
   * up after every other member and before it. Their values are ordinary (first of repeats kept).
   */
  companions?: readonly string[];
}

/** True when `key` is an RFC 7230 token, the only keys W3C baggage allows. */
export function isBaggageKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if (!isTokenChar(key.charCodeAt(i))) return false;
  return true;
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
  while (i < e && isTokenChar(h.charCodeAt(i))) i++;
  const ke = i;
  if (ke === ks) return undefined;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  if (i === e || h.charCodeAt(i) !== EQUALS) return undefined;
  i++;
  while (i < e && isOws(h.charCodeAt(i))) i++;
  const vs = i;
  while (i < e && isBaggageOctet(h.charCodeAt(i))) i++;
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
function memberSize(item: BaggageItem): number {
  return item.key.length + 1 + encodedLength(item.value) + (item.metadata ? 1 + item.metadata.length : 0);
}

type BaggageLimits = Pick<PropagationLimits, 'maxBaggageBytes' | 'maxBaggageMembers'>;

/** 0 for the reserved member, 1 for its companions, 2 for every other member: the order of the budget. */
function standing(key: string, reserved: ReservedMember | undefined): number {
  if (reserved === undefined) return 2;
  if (key === reserved.key) return 0;
  return reserved.companions?.includes(key) === true ? 1 : 2;
}

/**
 * Keeps the members that fit both limits, in order, whole; the reserved member and then its
 * companions are placed first in the budget so that other entries never crowd them out. Returns
 * the kept members (input order).
 */
function fitLimits(items: BaggageItem[], limits: BaggageLimits, reserved: ReservedMember | undefined): BaggageItem[] {
  let bytes = -1; // n members need n - 1 commas
  let count = 0;
  const kept = new Array<boolean>(items.length).fill(false);
  const indexes = Array.from(items.keys());
  const order =
    reserved === undefined
      ? indexes
      : indexes.sort((a, b) => standing(items[a]!.key, reserved) - standing(items[b]!.key, reserved) || a - b);
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
 * - the `reserved` member (if named): a value `isValid` refuses is dropped; two different values
 *   drop every member of that key (which one is genuine cannot be told); equal values keep the first;
 * - limits: members beyond `maxBaggageMembers` or `maxBaggageBytes` (as re-serialized) are dropped
 *   whole, the reserved member last and its companions just before it; at most `maxScanBytes` characters and `maxScanMembers` members
 *   are examined and a member cut by that window is dropped.
 */
export function parseBaggage(
  header: string | readonly string[],
  limits?: Partial<PropagationLimits>,
  reserved?: ReservedMember,
): ParsedBaggage {
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
  const reservedKey = reserved?.key;
  let reservedValue: string | undefined;
  let reservedConflict = false;
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
    } else if (item.key === reservedKey) {
      if (reservedValue !== undefined && reservedValue !== item.value) reservedConflict = true;
      reservedValue ??= item.value;
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
  let invalidReserved = false;
  const entries: BaggageItem[] = [];
  const seen = new Set<string>();
  for (const item of found) {
    if (item.key === reservedKey) {
      if (reservedConflict) {
        dropped++;
        continue;
      }
      if (!(reserved as ReservedMember).isValid(item.value)) {
        dropped++;
        invalidReserved = true;
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
  if (reservedConflict) log.debug(`baggage: conflicting ${reservedKey} members, all of them dropped`);
  else if (invalidReserved) log.debug(`baggage: ${reservedKey} member with an invalid value dropped`);

  const fitted = fitLimits(entries, l, reserved);
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
 * non-token key are dropped; malformed metadata is dropped from its member; a `reserved` member
 * whose value `isValid` refuses is dropped; repeated keys keep the first. The reserved member is written
 * first and its companions next, and members beyond `maxBaggageMembers` / `maxBaggageBytes` are dropped whole, never the
 * reserved member while others remain to drop.
 */
export function serializeBaggage(items: Iterable<BaggageItem>, limits?: Partial<BaggageLimits>, reserved?: ReservedMember): string {
  const valid: BaggageItem[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const item of items) {
    const { key, value } = item;
    if (!isBaggageKey(key) || typeof value !== 'string' || seen.has(key)) {
      dropped++;
      continue;
    }
    if (key === reserved?.key && !reserved.isValid(value)) {
      dropped++;
      log.debug(`baggage inject: ${key} member with an invalid value not written`);
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
    valid.push(entry);
  }
  // The reserved member first, then its companions, then the rest, each group in input order.
  if (reserved !== undefined) valid.sort((a, b) => standing(a.key, reserved) - standing(b.key, reserved));
  const fitted = fitLimits(valid, limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits), reserved);
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
