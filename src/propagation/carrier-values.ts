/**
 * Getters hand back whatever the carrier holds: Node joins or arrays repeated HTTP headers,
 * kafkajs delivers Buffers (and arrays of them for repeated keys), user carriers hold anything.
 * Every extract goes through `readHeaderValue` so the parsers only ever see a string.
 */

/** How repeated values of one header combine. */
export type HeaderMode = 'single' | 'list';

/**
 * Marks a value cut at the read limit. No header grammar accepts NUL, so whatever list member the
 * cut fell in is rejected whole instead of being read as a shorter, still valid, member.
 */
export const CUT_MARK = '\u0000';

function fromBytes(bytes: Uint8Array, limit: number): string {
  const n = bytes.byteLength;
  const end = n > limit ? limit : n;
  // Buffer.from(arrayBuffer, offset, length) is a view, not a copy; only `end` bytes are decoded.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
  return n > limit ? text + CUT_MARK : text;
}

function fromOne(raw: unknown, limit: number): string | undefined {
  if (typeof raw === 'string') return raw.length > limit ? raw.slice(0, limit) + CUT_MARK : raw;
  if (raw instanceof Uint8Array) return fromBytes(raw, limit);
  return undefined;
}

/**
 * Coerces a raw carrier value to one header string, or `undefined` when there is none usable.
 *
 * - string: as is; Buffer / Uint8Array: decoded as UTF-8;
 * - array, `single` mode: one element is fine, more is invalid (W3C: a repeated traceparent is
 *   not a traceparent); `list` mode: elements joined with ',' (RFC 9110 field combination);
 * - anything else (null, numbers, plain objects, symbols...): `undefined`.
 *
 * With `limit`, at most `limit` characters (bytes for binary input) are read: a longer value comes
 * back as its first `limit` characters followed by {@link CUT_MARK}. Never throws.
 */
export function readHeaderValue(raw: unknown, mode: HeaderMode, limit = Infinity): string | undefined {
  try {
    if (!Array.isArray(raw)) return fromOne(raw, limit);
    if (mode === 'single') return raw.length === 1 ? fromOne(raw[0], limit) : undefined;
    let out: string | undefined;
    for (let i = 0; i < raw.length; i++) {
      const budget = out === undefined ? limit : limit - out.length - 1;
      if (budget < 0) return out + CUT_MARK;
      const piece = fromOne(raw[i], budget);
      if (piece === undefined) continue; // a null among Kafka header values is noise, not a header
      out = out === undefined ? piece : out + ',' + piece;
      if (piece.endsWith(CUT_MARK)) return out;
    }
    return out;
  } catch {
    // Proxies, detached buffers, throwing getters: treat as absent, the caller logs.
    return undefined;
  }
}
