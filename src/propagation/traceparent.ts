/**
 * W3C Trace Context Level 2 `traceparent`: `version-traceid-parentid-flags`, lowercase hex.
 * Hand-written index checks instead of a RegExp: no captures, no allocation until the ids are
 * known valid, and the version rules (00 exact, future versions prefix-parsed) read as the spec.
 */
import { isOws } from './chars.js';

/** A parsed, valid traceparent. */
export interface ParsedTraceparent {
  /** The version byte (0 for `00`; 1..254 for future versions parsed by the version-00 rules). */
  version: number;
  /** 32 lowercase hex characters, not all zeros. */
  traceId: string;
  /** 16 lowercase hex characters, not all zeros. */
  spanId: string;
  /** The whole trace-flags byte as received; only the owner of a bit may interpret it. */
  flags: number;
}

/** Sampled flag (Level 1). */
export const FLAG_SAMPLED = 0x01;
/** Random trace id flag (Level 2): the right-most 7 bytes of the trace id are random. */
export const FLAG_RANDOM = 0x02;

/** Length of a version-00 traceparent, and of the prefix every future version shares. */
const TRACEPARENT_LENGTH = 55;

const DASH = 0x2d;

/** Value of a lowercase hex digit, or -1. Uppercase is not HEXDIGLC and is rejected. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** True when [start, start + len) is lowercase hex and not all '0'. */
function isNonZeroHex(s: string, start: number, len: number): boolean {
  let nonZero = false;
  for (let i = start; i < start + len; i++) {
    const v = hexValue(s.charCodeAt(i));
    if (v < 0) return false;
    if (v !== 0) nonZero = true;
  }
  return nonZero;
}

function byteAt(s: string, i: number): number {
  const hi = hexValue(s.charCodeAt(i));
  const lo = hexValue(s.charCodeAt(i + 1));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/**
 * Parses a traceparent value. Leading and trailing OWS is ignored (the W3C test harness sends
 * it). Version 00 must be exactly 55 characters; a future version (01..fe) is parsed by the
 * version-00 rules on its first 55 characters and anything after must start with '-'. Version ff,
 * all-zero ids, uppercase or non-hex characters make it invalid. Returns `undefined` when invalid.
 */
export function parseTraceparent(value: string): ParsedTraceparent | undefined {
  if (typeof value !== 'string') return undefined;
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  const len = end - start;
  if (len < TRACEPARENT_LENGTH) return undefined;

  const version = byteAt(value, start);
  if (version < 0 || version === 0xff) return undefined;
  if (version === 0 ? len !== TRACEPARENT_LENGTH : len > TRACEPARENT_LENGTH && value.charCodeAt(start + 55) !== DASH) {
    return undefined;
  }
  if (value.charCodeAt(start + 2) !== DASH || value.charCodeAt(start + 35) !== DASH || value.charCodeAt(start + 52) !== DASH) {
    return undefined;
  }
  if (!isNonZeroHex(value, start + 3, 32) || !isNonZeroHex(value, start + 36, 16)) return undefined;
  const flags = byteAt(value, start + 53);
  if (flags < 0) return undefined;
  return {
    version,
    traceId: value.slice(start + 3, start + 35),
    spanId: value.slice(start + 36, start + 52),
    flags,
  };
}

/** A trace id or span id as lowercase hex, or `undefined` if it is not `len` hex digits, non-zero. */
export function normalizeHexId(id: unknown, len: number): string | undefined {
  if (typeof id !== 'string' || id.length !== len) return undefined;
  if (isNonZeroHex(id, 0, len)) return id;
  // Span contexts built by hand may carry uppercase ids (the API accepts them); the wire may not.
  const lower = id.toLowerCase();
  return lower !== id && isNonZeroHex(lower, 0, len) ? lower : undefined;
}

/**
 * Formats a version-00 traceparent. Ids are lowercased if needed; returns `undefined` when either
 * id is invalid. `flags` is written as given (masked to a byte): choosing which bits to propagate
 * is the caller's job.
 */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string | undefined {
  const t = normalizeHexId(traceId, 32);
  const s = normalizeHexId(spanId, 16);
  if (t === undefined || s === undefined) return undefined;
  const f = (typeof flags === 'number' && Number.isFinite(flags) ? flags : 0) & 0xff;
  return `00-${t}-${s}-${f < 16 ? '0' : ''}${f.toString(16)}`;
}
