/**
 * Option validation shared by `init` and every adapter: one place that turns what a user passed
 * into validated settings, and throws a TypeError naming the option at setup time. Runtime code
 * never validates again.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { configError } from './config-error.js';
import { createKeyring, type SigningKeyOption, type SigningKeyring } from './signing.js';
import { assertShapeOption, assertTrustOption, type ShapeOption, type TrustOption } from './trust.js';

/** Edit distance between two option names (insertions, deletions, substitutions, swaps). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known option a misspelled `name` most likely meant, if one is close. */
function suggestion(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0 : distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The option names of an options type, spelled once as the keys of a record, so the compiler
 * fails when an option is added to the type but not here (a new option must never be rejected as
 * unknown).
 */
export function optionNames<T extends object>(names: Record<keyof Required<T>, true>): readonly string[] {
  return Object.keys(names);
}

/**
 * The options object given to a setup function (`{}` when omitted); anything else throws. With
 * `known`, a key that is not one of them throws too, with the likely intended name: a
 * misspelled option (`{ trsut: 'link' }`) must not silently leave the default in place.
 */
export function optionsObject(value: unknown, where: string, known?: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) configError(where, 'must be an object');
  const options = value as Record<string, unknown>;
  if (known !== undefined) {
    for (const key of Object.keys(options)) {
      if (known.includes(key)) continue;
      const meant = suggestion(key, known);
      configError(where, `has no option "${key}"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}; known: ${known.join(', ')}`);
    }
  }
  return options;
}

/** A boolean option, `fallback` when unset. */
export function booleanOption(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') configError(where, 'must be a boolean');
  return value;
}

/** A string option, undefined when unset. */
export function stringOption(value: unknown, where: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') configError(where, 'must be a string');
  return value as string | undefined;
}

/** A non-negative integer option, `fallback` when unset. */
export function countOption(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) configError(where, 'must be a non-negative integer');
  return value;
}

/** A positive integer option (a count or a duration in ms), `fallback` when unset. */
export function positiveIntegerOption(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) configError(where, 'must be a positive integer');
  return value;
}

/**
 * A positive integer from an environment variable (unset or empty: `fallback`). A value that is
 * set and not a positive integer throws, naming the variable: a typo in the deployment should
 * fail at startup, not quietly run with the default.
 */
export function envPositiveInteger(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  return positiveIntegerOption(Number.isFinite(value) ? value : raw, name, fallback);
}

/** One of `allowed`, `fallback` when unset. */
export function enumOption<T extends string>(value: unknown, where: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) configError(where, `must be ${allowed.map((a) => `'${a}'`).join(' | ')}, got ${String(value)}`);
  return value as T;
}

/**
 * A `signingKey` option: undefined = the key given to `init`, null = none, else a validated
 * keyring (a short or malformed key throws, naming `where`).
 */
export function keyringOption(value: unknown, where: string): SigningKeyring | null | undefined {
  if (value === undefined || value === null) return value;
  return createKeyring(value as SigningKeyOption | SigningKeyring, where);
}

/**
 * A `signedUpgrade` option (default `fallback`, false at the top level): whether a validly signed
 * session entry upgrades `link` to `trust` on this route, topic or queue. Off by default because
 * a signature vouches for the session entry only, and a captured entry replays until it expires.
 */
export function signedUpgradeOption(value: unknown, where: string, fallback = false): boolean {
  return booleanOption(value, where, fallback);
}

/** A `propagator` option: a TextMapPropagator, or undefined for the library's. */
export function propagatorOption(value: unknown, where: string, method: 'inject' | 'extract'): TextMapPropagator | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>)[method] !== 'function') {
    configError(where, 'must be a TextMapPropagator');
  }
  return value as TextMapPropagator;
}

/** A `sampler` option: an OpenTelemetry Sampler, or undefined for the provider's (OTEL_TRACES_SAMPLER). */
export function samplerOption(value: unknown, where: string): Sampler | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>).shouldSample !== 'function') {
    configError(where, 'must be a Sampler (an object with shouldSample)');
  }
  return value as Sampler;
}

/** A `trust` option: a mode or a function of the input. */
export function trustOption<Input>(value: unknown, where: string): TrustOption<Input> | undefined {
  assertTrustOption(value, where);
  return value as TrustOption<Input> | undefined;
}

/** A `shape` option: a shape or a function of the input. */
export function shapeOption<Input>(value: unknown, where: string): ShapeOption<Input> | undefined {
  assertShapeOption(value, where);
  return value as ShapeOption<Input> | undefined;
}

/**
 * Per-key policies (Kafka topics, BullMQ queues): `byKey[key]` validated by `parse` on top of the
 * top-level `defaults`, looked up by exact key; any other key gets the defaults.
 */
export function policyTable<P>(
  byKey: unknown,
  where: string,
  defaults: P,
  parse: (raw: Record<string, unknown>, where: string, defaults: P) => P,
  known?: readonly string[],
): (key: string | undefined) => P {
  const table = new Map<string, P>();
  for (const [key, raw] of Object.entries(optionsObject(byKey, where))) {
    const at = `${where}["${key}"]`;
    table.set(key, parse(optionsObject(raw, at, known), at, defaults));
  }
  return (key) => (key === undefined ? undefined : table.get(key)) ?? defaults;
}

/**
 * `publicPathPrefixes`: absolute request paths ('/webhooks', '/api/public/'); no query or
 * fragment, since they are compared with the path of the request target only.
 */
export function pathPrefixesOption(value: unknown, where: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) configError(where, 'must be an array of path prefixes starting with "/"');
  return Object.freeze(
    value.map((p: unknown, i) => {
      if (typeof p !== 'string' || !p.startsWith('/')) configError(`${where}[${i}]`, 'must be a path starting with "/"');
      if (p.includes('?') || p.includes('#')) configError(`${where}[${i}]`, 'must not contain a query or fragment');
      return p;
    }),
  );
}
