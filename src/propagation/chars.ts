/** Code points of the W3C header grammars (traceparent, tracestate, baggage). */
const HTAB = 0x09;
export const SP = 0x20;
export const COMMA = 0x2c;
export const SEMI = 0x3b;
export const EQUALS = 0x3d;
export const PERCENT = 0x25;

/** Optional white space (RFC 7230 OWS): space or horizontal tab. */
export function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}
