/**
 * What the outbound guards (client-guard.ts for node:http/https, undici-guard.ts for undici and
 * fetch) remove on a denied destination, and the decision for one destination. Shared so that
 * both clients strip exactly the same set: every header that carries the session's trace id
 * (the trace id IS the session id) and this library's baggage members.
 */
import type { InjectFields } from '../base/context-keys.js';
import { BoundedCache } from '../base/bounded-cache.js';
import { SESSION_BAGGAGE_KEY } from '../session/entry.js';
import type { TargetPolicy } from './targets.js';

/** Headers that carry a trace id in the formats instrumentations write (W3C, B3, Sentry). */
export const TRACE_HEADERS: ReadonlySet<string> = new Set([
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'sentry-trace',
]);

/** Every header name a guard looks at; a block without any of them is passed through untouched. */
export const GUARDED_HEADERS: readonly string[] = [...TRACE_HEADERS, 'baggage'];

const ALLOW_BOTH: Readonly<InjectFields> = Object.freeze({ traceparent: true, baggage: true });
const DENY_BOTH: Readonly<InjectFields> = Object.freeze({ traceparent: false, baggage: false });

/** Baggage header values the global propagator wrote: all their members are ours. */
const written = new BoundedCache<string, true>(256);

/** Records a baggage value the global propagator wrote, so that a guard knows its members are ours. */
export function recordWrittenBaggage(value: string): void {
  if (value.length <= 8192) written.set(value, true);
}

function decode(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/** The session entry and the `agentops.` namespace are ours wherever they come from (a copied inbound header). */
function isOurMember(key: string): boolean {
  const k = decode(key);
  return k === SESSION_BAGGAGE_KEY || k.startsWith('agentops.');
}

const filtered = new BoundedCache<string, { value: string | undefined }>(256);

/** A member whose value names `traceId`: another tool's copy of the trace id (`sentry-trace_id`, `langfuse_trace_id`). */
function namesTrace(member: string, eq: number, traceId: string): boolean {
  if (eq === -1) return false;
  const value = member.slice(eq + 1);
  return value.length >= 32 && (value.includes(traceId) || decode(value).toLowerCase().includes(traceId));
}

function filterUncached(text: string, ours: boolean, traceId: string | undefined): string | undefined {
  if (ours && written.get(text) === true) return undefined;
  const kept: string[] = [];
  for (const member of text.split(',')) {
    const eq = member.indexOf('=');
    const key = (eq === -1 ? member : member.slice(0, eq)).trim();
    if (key === '') continue;
    if (isOurMember(key) || written.get(member.trim()) === true) {
      // Ours: the baggage decision governs them (the session id is the trace id by design).
      if (ours) continue;
    } else if (traceId !== undefined && namesTrace(member, eq, traceId)) continue;
    kept.push(member.trim());
  }
  return kept.length === 0 ? undefined : kept.join(',');
}

/**
 * A baggage header filtered for a denied destination; undefined when nothing is left.
 * `ours`: without this library's members (the baggage field is denied). `traceId`: without other
 * tools' members whose value names that trace (the trace field is denied): the trace id is the
 * session id, whoever copies it into baggage.
 */
export function filterDeniedBaggage(value: unknown, ours: boolean, traceId?: string): string | undefined {
  const text = Array.isArray(value) ? value.map(String).join(',') : String(value);
  // Within a session every request carries the same value: remember the answer.
  const key = `${ours ? '1' : '0'}${traceId ?? ''} ${text}`;
  const hit = filtered.get(key);
  if (hit !== undefined) return hit.value;
  const out = filterUncached(text, ours, traceId);
  if (text.length <= 8192) filtered.set(key, { value: out });
  return out;
}

/** A baggage header without our members; undefined when nothing is left. */
export function withoutOurBaggage(value: unknown): string | undefined {
  return filterDeniedBaggage(value, true);
}

/** Whether a header value carries `traceId` (a correlation header, an array header instrumentation-http renamed "0"). */
export function carriesTraceId(value: unknown, traceId: string | undefined): boolean {
  if (traceId === undefined) return false;
  const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : String(value);
  return text.length >= 32 && (text.includes(traceId) || text.toLowerCase().includes(traceId));
}

/**
 * Allowances a hop of this library granted with per-call targets the global policy does not
 * know, keyed by the trace id of the traceparent the hop wrote plus the destination origin
 * (never a context flag: other code runs in a context). The trace id rather than the whole
 * value, because instrumentation-http replaces a traceparent the caller set with its own CLIENT
 * span's, in the same trace.
 */
const hopAllowances = new BoundedCache<string, InjectFields>(1024);

function traceIdOf(traceparent: unknown): string | undefined {
  return typeof traceparent === 'string' && traceparent.length >= 55 ? traceparent.slice(3, 35).toLowerCase() : undefined;
}

/** Records that a hop allowed `fields` for requests to `url`'s origin in the trace of `traceparent`. */
export function recordHopAllowance(traceparent: string, url: URL, fields: InjectFields): void {
  const traceId = traceIdOf(traceparent);
  if (traceId !== undefined) hopAllowances.set(`${traceId} ${url.origin}`, { traceparent: fields.traceparent, baggage: fields.baggage });
}

/** The fields a hop allowed for `url` in the trace of `traceparent`, if any. */
function hopAllowance(traceparent: unknown, url: string): InjectFields | undefined {
  const traceId = traceIdOf(traceparent);
  return traceId === undefined ? undefined : hopAllowances.get(`${traceId} ${originOf(url)}`);
}

/** Decides per destination URL (origin + path, no query), remembering answers. */
export type Decider = (url: string) => Readonly<InjectFields>;

/**
 * A cached `fieldsFor`. The key is the origin alone when the policy has no path targets (the
 * answer cannot depend on the path), else origin + path; a throwing policy denies both.
 */
export function decider(policy: TargetPolicy, byPath: boolean): Decider {
  const cache = new BoundedCache<string, Readonly<InjectFields>>(1024);
  return (url) => {
    const key = byPath ? url : originOf(url);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    let fields: Readonly<InjectFields>;
    try {
      const f = policy.fieldsFor(url);
      fields = f.traceparent && f.baggage ? ALLOW_BOTH : !f.traceparent && !f.baggage ? DENY_BOTH : Object.freeze({ ...f });
    } catch {
      fields = DENY_BOTH;
    }
    cache.set(key, fields);
    return fields;
  };
}

function originOf(url: string): string {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash === -1 ? url : url.slice(0, slash);
}

/** Both fields allowed by every one of `urls` (a request judged by where it connects and the Host it names). */
export function decideAll(decide: Decider, urls: readonly string[], traceparent: unknown): InjectFields {
  let traceparentOk = true;
  let baggageOk = true;
  for (const url of urls) {
    const granted = hopAllowance(traceparent, url);
    const f = decide(url);
    traceparentOk &&= f.traceparent || granted?.traceparent === true;
    baggageOk &&= f.baggage || granted?.baggage === true;
  }
  return { traceparent: traceparentOk, baggage: baggageOk };
}
