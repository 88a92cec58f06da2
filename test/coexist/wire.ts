// Reading what went over the wire in the coexistence tests: header lines of a raw request head,
// and the members of baggage headers as another SDK would split them.

/** A baggage member: its key, the value as sent, and the value percent-decoded. */
export interface Member {
  key: string;
  raw: string;
  value: string;
}

/** The values of header `name` in a raw request head (`GET / HTTP/1.1\r\nname: value...`), in order. */
export function headerValues(head: string, name: string): string[] {
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) out.push(line.slice(colon + 1).trim());
  }
  return out;
}

/** The members of one or more baggage header values, in order (properties, if any, stay in `raw`). */
export function baggageMembers(values: readonly string[]): Member[] {
  const out: Member[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const member = part.trim();
      if (member === '') continue;
      const eq = member.indexOf('=');
      const key = (eq === -1 ? member : member.slice(0, eq)).trim();
      const raw = eq === -1 ? '' : member.slice(eq + 1).trim();
      let decoded = raw;
      try {
        decoded = decodeURIComponent(raw);
      } catch {
        // kept as sent
      }
      out.push({ key, raw, value: decoded });
    }
  }
  return out;
}

/** Keys that appear more than once. */
export function duplicateKeys(members: readonly Member[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const m of members) {
    if (seen.has(m.key)) dup.add(m.key);
    seen.add(m.key);
  }
  return [...dup];
}

/** The all-zero trace id (W3C: invalid), as Sentry 10's fetch integration writes it under suppressed tracing. */
export const ZERO_TRACE = /(?:^|[^0-9a-f])0{32}(?:[^0-9a-f]|$)/i;

/** Header names that carry a trace id in the formats instrumentations write (W3C, B3, Sentry). */
export const TRACE_HEADER_LINE = /^(traceparent|tracestate|b3|x-b3-[a-z]+|sentry-trace):/im;
