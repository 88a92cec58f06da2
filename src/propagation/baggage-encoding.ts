/**
 * W3C Baggage character classes, property lists, and value percent-encoding: UTF-8, every code point outside
 * baggage-octet (and '%' itself) as `%XX`; invalid UTF-8 decodes to U+FFFD as the spec requires.
 */
import { COMMA, EQUALS, isOws, PERCENT, SEMI } from './chars.js';

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

/** An RFC 7230 tchar (the characters of a baggage key or property name). */
export function isTokenChar(c: number): boolean {
  return c < 128 && ((CLASS[c] as number) & TCHAR) !== 0;
}

/** A baggage-octet (the characters a value may hold unencoded, '%' included). */
export function isBaggageOctet(c: number): boolean {
  return c < 128 && ((CLASS[c] as number) & OCTET) !== 0;
}

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

const PLUS = 0x2b;

/**
 * Whether a code unit may stand for itself in a value: a baggage-octet other than '%' and '+'.
 * A literal '+' is valid W3C, but OTel Python reads it as a space (form decoding): encoded, it
 * survives (docs/baggage-interop.md).
 */
function isPlain(c: number): boolean {
  return c !== PERCENT && c !== PLUS && isBaggageOctet(c);
}

/**
 * Percent-encodes a value: UTF-8, every code point outside baggage-octet, '%' and '+' as
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
    while (i < end && isTokenChar(text.charCodeAt(i))) i++;
    if (i === ks) return undefined;
    const ke = i;
    while (i < end && isOws(text.charCodeAt(i))) i++;
    let part = text.slice(ks, ke);
    if (i < end && text.charCodeAt(i) === EQUALS) {
      i++;
      while (i < end && isOws(text.charCodeAt(i))) i++;
      const vs = i;
      while (i < end && isBaggageOctet(text.charCodeAt(i))) i++;
      part += '=' + text.slice(vs, i);
      while (i < end && isOws(text.charCodeAt(i))) i++;
    }
    out += out.length === 0 ? part : ';' + part;
    if (i === end) return out;
    if (text.charCodeAt(i) !== SEMI) return undefined;
    i++;
  }
}
