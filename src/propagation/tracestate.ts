/**
 * W3C `tracestate`, current key grammar: `( lcalpha / DIGIT ) 0*255( keychar )` where keychar
 * includes '@' as an ordinary character (the tenant@vendor split is gone: the W3C test harness,
 * strict mode, now expects `foo@`, `foo@@bar`, `t@vvvv...` to be kept and `@foo` to be refused).
 *
 * Whole-header rules, as the harness expects in strict mode: one invalid member or more than 32
 * members discards the entire tracestate; a repeated key keeps its first (left-most, most recent)
 * occurrence; empty and OWS-only members are skipped.
 */
import type { TraceState as ApiTraceState } from '@opentelemetry/api';
import { log } from '../base/diag.js';
import { bump } from '../base/state.js';
import { COMMA, EQUALS, isOws, SP } from './chars.js';
import { DEFAULT_LIMITS, resolveLimits, type PropagationLimits } from './limits.js';

/** Most list members a tracestate may hold. */
const MAX_TRACESTATE_MEMBERS = 32;
const MAX_KEY_LENGTH = 256;
const MAX_VALUE_LENGTH = 256;
/** Entries longer than this are the first to go when a tracestate must be shortened. */
const LONG_ENTRY_LENGTH = 128;

function isKeyStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

function isKeyChar(c: number): boolean {
  // _ - * / @
  return isKeyStart(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f || c === 0x40;
}

function isValueChar(c: number): boolean {
  return c >= SP && c <= 0x7e && c !== COMMA && c !== EQUALS;
}

function keyOk(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 1 || len > MAX_KEY_LENGTH || !isKeyStart(s.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) if (!isKeyChar(s.charCodeAt(i))) return false;
  return true;
}

function valueOk(s: string, start: number, end: number): boolean {
  const len = end - start;
  // At least one character and the last one not a space: `0*255(chr) nblk-chr`.
  if (len < 1 || len > MAX_VALUE_LENGTH || s.charCodeAt(end - 1) === SP) return false;
  for (let i = start; i < end; i++) if (!isValueChar(s.charCodeAt(i))) return false;
  return true;
}

/** True when `key` matches the tracestate key grammar. */
export function isValidTracestateKey(key: string): boolean {
  return typeof key === 'string' && keyOk(key, 0, key.length);
}

/** True when `value` matches the tracestate value grammar. */
export function isValidTracestateValue(value: string): boolean {
  return typeof value === 'string' && valueOk(value, 0, value.length);
}

let construct: (keys: string[], values: string[]) => TraceState;

/**
 * An immutable tracestate implementing the OpenTelemetry API interface. It only ever holds valid
 * members, so `serialize()` is always a valid header: `set` with an invalid key or value is a
 * no-op (the SDK and samplers call it with whatever they have; a bad member must not poison the
 * header for every vendor downstream).
 */
export class TraceState implements ApiTraceState {
  static {
    construct = (keys, values) => new TraceState(keys, values);
  }

  // Parallel arrays, left-most first: at most 32 entries, so linear lookups beat a Map's allocation.
  private readonly keys: readonly string[];
  private readonly values: readonly string[];
  private serialized: string | undefined;

  private constructor(keys: string[], values: string[]) {
    this.keys = keys;
    this.values = values;
  }

  /**
   * Builds a tracestate from `[key, value]` pairs, left-most first. Invalid pairs, repeated keys
   * and pairs past the 32nd are skipped.
   */
  static fromEntries(pairs: Iterable<readonly [string, string]>): TraceState {
    const keys: string[] = [];
    const values: string[] = [];
    for (const [key, value] of pairs) {
      if (keys.length === MAX_TRACESTATE_MEMBERS) break;
      if (!isValidTracestateKey(key) || !isValidTracestateValue(value) || keys.includes(key)) continue;
      keys.push(key);
      values.push(value);
    }
    return new TraceState(keys, values);
  }

  /** Number of list members. */
  get size(): number {
    return this.keys.length;
  }

  get(key: string): string | undefined {
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : this.values[i];
  }

  /** Returns a tracestate with `key` set and moved to the front (W3C: modified keys go left). */
  set(key: string, value: string): TraceState {
    if (!isValidTracestateKey(key) || !isValidTracestateValue(value)) {
      log.debug('tracestate.set ignored: key or value does not match the W3C grammar');
      return this;
    }
    const keys = [key];
    const values = [value];
    for (let i = 0; i < this.keys.length && keys.length < MAX_TRACESTATE_MEMBERS; i++) {
      // Past 32 members the right-most one goes (W3C "Mutating the tracestate Field").
      const k = this.keys[i] as string;
      if (k === key) continue;
      keys.push(k);
      values.push(this.values[i] as string);
    }
    return new TraceState(keys, values);
  }

  unset(key: string): TraceState {
    const at = this.keys.indexOf(key);
    if (at < 0) return this;
    const keys = this.keys.slice();
    const values = this.values.slice();
    keys.splice(at, 1);
    values.splice(at, 1);
    return new TraceState(keys, values);
  }

  serialize(): string {
    if (this.serialized === undefined) {
      let out = '';
      for (let i = 0; i < this.keys.length; i++) {
        out += `${i === 0 ? '' : ','}${this.keys[i]}=${this.values[i]}`;
      }
      this.serialized = out;
    }
    return this.serialized;
  }

  /** The members as `[key, value]` pairs, left-most first. */
  entries(): Array<[string, string]> {
    return this.keys.map((k, i) => [k, this.values[i] as string]);
  }

  /**
   * A tracestate whose serialization fits in `maxLength` characters, shortened as the W3C
   * prescribes: whole entries only, entries longer than 128 characters first (right-most first),
   * then entries from the end.
   */
  truncate(maxLength: number): TraceState {
    const n = this.keys.length;
    const sizes = new Array<number>(n);
    let total = n > 0 ? n - 1 : 0;
    for (let i = 0; i < n; i++) {
      sizes[i] = (this.keys[i] as string).length + 1 + (this.values[i] as string).length;
      total += sizes[i] as number;
    }
    if (total <= maxLength) return this;
    const keep = new Array<boolean>(n).fill(true);
    let kept = n;
    const drop = (i: number): void => {
      keep[i] = false;
      total -= (sizes[i] as number) + (kept > 1 ? 1 : 0);
      kept--;
    };
    for (let i = n - 1; i >= 0 && total > maxLength; i--) if ((sizes[i] as number) > LONG_ENTRY_LENGTH) drop(i);
    for (let i = n - 1; i >= 0 && total > maxLength; i--) if (keep[i]) drop(i);
    const keys: string[] = [];
    const values: string[] = [];
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      keys.push(this.keys[i] as string);
      values.push(this.values[i] as string);
    }
    return new TraceState(keys, values);
  }
}

/**
 * Parses a (combined) tracestate header. Returns `undefined` when it holds no member, or when it
 * must be discarded whole: an invalid member, more than 32 members, or longer than
 * `maxTracestateScanBytes` (it could not be validated without reading past the work cap). A valid
 * tracestate longer than `maxTracestateLength` is shortened by whole entries ({@link
 * TraceState.truncate}). Counts the characters examined in the shared counters.
 */
export function parseTracestate(
  header: string,
  limits?: Partial<Pick<PropagationLimits, 'maxTracestateLength' | 'maxTracestateScanBytes'>>,
): TraceState | undefined {
  if (typeof header !== 'string') return undefined;
  const l = limits === undefined ? DEFAULT_LIMITS : resolveLimits(limits);
  const scanCap = l.maxTracestateScanBytes;
  const maxLength = l.maxTracestateLength;
  if (header.length > scanCap) {
    bump('tracestateDiscarded');
    log.debug(`tracestate discarded: longer than ${scanCap} characters`);
    return undefined;
  }
  bump('tracestateBytesExamined', header.length);
  const result = parseList(header);
  if (typeof result === 'string') {
    bump('tracestateDiscarded');
    log.debug(`tracestate discarded: ${result}`);
    return undefined;
  }
  return result?.truncate(maxLength);
}

/**
 * Re-validates the serialization of a tracestate this module did not build (another vendor's
 * `TraceState` on a span context) before it is written: a valid header or `undefined`.
 */
export function sanitizeTracestate(serialized: string, maxLength: number): string | undefined {
  if (typeof serialized !== 'string' || serialized.length === 0) return undefined;
  const result = parseList(serialized);
  if (result === undefined || typeof result === 'string') return undefined;
  const out = result.truncate(maxLength).serialize();
  return out.length > 0 ? out : undefined;
}

/** The members of a tracestate list, `undefined` if it has none, or why it is invalid. */
function parseList(header: string): TraceState | string | undefined {
  const n = header.length;
  const keys: string[] = [];
  const values: string[] = [];
  let members = 0;
  let pos = 0;
  while (pos <= n) {
    let end = header.indexOf(',', pos);
    if (end < 0) end = n;
    let s = pos;
    let e = end;
    while (s < e && isOws(header.charCodeAt(s))) s++;
    while (e > s && isOws(header.charCodeAt(e - 1))) e--;
    if (s < e) {
      if (++members > MAX_TRACESTATE_MEMBERS) return `more than ${MAX_TRACESTATE_MEMBERS} members`;
      let eq = s;
      while (eq < e && header.charCodeAt(eq) !== EQUALS) eq++;
      if (eq === e || !keyOk(header, s, eq) || !valueOk(header, eq + 1, e)) {
        return `invalid member at offset ${s}`;
      }
      const key = header.slice(s, eq);
      if (keys.includes(key)) {
        // The spec lets vendors drop duplicates; the left-most is the most recent position.
        log.debug('tracestate: repeated key dropped, first occurrence kept');
      } else {
        keys.push(key);
        values.push(header.slice(eq + 1, e));
      }
    }
    pos = end + 1;
  }
  return keys.length === 0 ? undefined : construct(keys, values);
}
