// Validators of what a hop writes onward, written from the W3C texts and independent of the
// parsers under test: a fuzz case passes only if every outbound field would be accepted by a
// strict receiver.

/** What we emit: version 00, non-zero ids, and only the sampled and random flag bits. */
const EMITTED_TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[0-3]$/;
const TRACESTATE_MEMBER = /^[a-z0-9][_0-9a-z\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAGGAGE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const PROPERTY = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)?$/;
const SESSION_ID = /^(?!0{32})[0-9a-f]{32}$/;
const SESSION_KEY = 'agentops.session.id';

/** W3C Baggage limits we promise on inject. */
export const MAX_BAGGAGE_BYTES = 8192;
export const MAX_BAGGAGE_MEMBERS = 64;
const MAX_TRACESTATE_LENGTH = 512;

/** One outbound baggage member as a receiver would read it. */
export interface OracleBaggageMember {
  key: string;
  /** Still percent-encoded. */
  value: string;
  properties: string[];
}

/** The problems with an outbound `traceparent`, empty when it is valid. */
function traceparentProblems(value: unknown): string[] {
  if (typeof value !== 'string') return [`traceparent is a ${typeof value}`];
  return EMITTED_TRACEPARENT.test(value) ? [] : [`invalid traceparent ${JSON.stringify(value.slice(0, 80))}`];
}

/** The problems with an outbound `tracestate`, empty when it is valid. */
function tracestateProblems(value: unknown): string[] {
  if (typeof value !== 'string') return [`tracestate is a ${typeof value}`];
  if (value.length === 0) return ['empty tracestate written'];
  if (value.length > MAX_TRACESTATE_LENGTH) return [`tracestate of ${value.length} characters`];
  const members = value.split(',');
  if (members.length > 32) return [`tracestate with ${members.length} members`];
  const keys = new Set<string>();
  const problems: string[] = [];
  for (const member of members) {
    if (!TRACESTATE_MEMBER.test(member)) problems.push(`invalid tracestate member ${JSON.stringify(member.slice(0, 80))}`);
    const key = member.slice(0, member.indexOf('='));
    if (keys.has(key)) problems.push(`repeated tracestate key ${key}`);
    keys.add(key);
  }
  return problems;
}

/** The members of an outbound `baggage` and its problems (grammar, limits, session entry). */
export function baggageProblems(value: unknown): { members: OracleBaggageMember[]; problems: string[] } {
  if (typeof value !== 'string') return { members: [], problems: [`baggage is a ${typeof value}`] };
  const problems: string[] = [];
  if (value.length === 0) problems.push('empty baggage written');
  if (Buffer.byteLength(value, 'utf8') > MAX_BAGGAGE_BYTES) problems.push(`baggage of ${Buffer.byteLength(value, 'utf8')} bytes`);
  // We write no OWS: a strict reading without it.
  const members: OracleBaggageMember[] = [];
  for (const text of value.split(',')) {
    const [pair, ...properties] = text.split(';');
    const eq = (pair ?? '').indexOf('=');
    const key = eq < 0 ? '' : (pair as string).slice(0, eq);
    const encoded = eq < 0 ? '' : (pair as string).slice(eq + 1);
    if (!TOKEN.test(key) || !BAGGAGE_VALUE.test(encoded)) problems.push(`invalid baggage member ${JSON.stringify(text.slice(0, 80))}`);
    for (const property of properties)
      if (!PROPERTY.test(property)) problems.push(`invalid baggage property ${JSON.stringify(property.slice(0, 80))}`);
    if (/%(?![0-9A-F]{2})/.test(encoded))
      problems.push(`baggage value with a bare or lowercase % escape: ${JSON.stringify(encoded.slice(0, 80))}`);
    members.push({ key, value: encoded, properties });
  }
  if (members.length > MAX_BAGGAGE_MEMBERS) problems.push(`baggage with ${members.length} members`);
  const keys = new Set<string>();
  for (const m of members) {
    if (keys.has(m.key)) problems.push(`repeated baggage key ${m.key}`);
    keys.add(m.key);
    if (m.key === SESSION_KEY && !SESSION_ID.test(m.value)) problems.push(`session entry with id ${JSON.stringify(m.value.slice(0, 80))}`);
  }
  return { members, problems };
}

/** The session id an outbound `baggage` carries, if any. */
export function outboundSessionId(baggage: unknown): string | undefined {
  if (typeof baggage !== 'string') return undefined;
  return baggageProblems(baggage).members.find((m) => m.key === SESSION_KEY)?.value;
}

/**
 * Every problem with the W3C fields a hop wrote (a record of header name to value). `traceparent`
 * is required when `tracestate` is present: a tracestate alone is never valid.
 */
export function outboundProblems(fields: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    switch (name.toLowerCase()) {
      case 'traceparent':
        problems.push(...traceparentProblems(value));
        break;
      case 'tracestate':
        problems.push(...tracestateProblems(value));
        if (fields.traceparent === undefined) problems.push('tracestate without traceparent');
        break;
      case 'baggage':
        problems.push(...baggageProblems(value).problems);
        break;
      default:
        problems.push(`unexpected field ${name}`);
    }
  }
  return problems;
}
