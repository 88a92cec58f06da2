import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SessionEntry } from '../session/entry.js';
import { BoundedCache } from '../base/bounded-cache.js';
import { sharedState } from '../base/state.js';
import { configError } from './config-error.js';

/** A shared secret: at least 16 bytes (a string is taken as UTF-8). */
export type SigningSecret = string | Uint8Array;

/** Several keys for rotation: every listed key verifies, the active one signs. */
export interface SigningKeyConfig {
  /** Secrets by key id (`[A-Za-z0-9_-]{1,16}`); the id travels in the signature. */
  keys: Record<string, SigningSecret>;
  /** Id of the key that signs outbound entries. */
  activeKeyId: string;
  /**
   * Lifetime of a signature in seconds (default 86400: delayed and retried jobs and lagging
   * consumers keep their session). Inbound, an expiry later than now + this lifetime + 5 minutes
   * of clock skew is refused, whichever key of the ring signed it.
   */
  ttlSeconds?: number;
}

/** What `signingKey` accepts: one secret, or a rotation set. */
export type SigningKeyOption = SigningSecret | SigningKeyConfig;

/** A validated, ready-to-use set of keys. */
export interface SigningKeyring {
  readonly activeKeyId: string;
  readonly keys: ReadonlyMap<string, Buffer>;
  readonly ttlSeconds: number;
}

/** Why an inbound entry was accepted or refused. */
export type SignatureVerdict = 'valid' | 'unsigned' | 'malformed' | 'unknown-key' | 'expired' | 'beyond-lifetime' | 'forged';

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
const DEFAULT_KEY_ID = 'k0';
const VERSION = 'v1';
const MIN_SECRET_BYTES = 16;
/** Default lifetime of a signature: a day, long enough for delayed and retried jobs. */
const DEFAULT_TTL_SECONDS = 86_400;
/** Clock skew tolerated between services, in seconds. */
const MAX_SKEW_SECONDS = 300;
/** An expiry in seconds: decimal without leading zeros, at most 12 digits. */
const CANONICAL_EXPIRY = /^[1-9][0-9]{0,11}$/;

function secretBytes(secret: unknown, where: string): Buffer {
  let bytes: Buffer;
  if (typeof secret === 'string') bytes = Buffer.from(secret, 'utf8');
  else if (secret instanceof Uint8Array) bytes = Buffer.from(secret);
  else configError(where, 'must be a string or Uint8Array');
  if (bytes.length < MIN_SECRET_BYTES) {
    configError(where, `must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Validates a `signingKey` option. Configuration errors throw a TypeError at setup time: a
 * misconfigured key would otherwise silently turn every inbound session into 'link'.
 */
export function createKeyring(option: SigningKeyOption | SigningKeyring, where = 'signingKey'): SigningKeyring {
  if (isKeyring(option)) return option;
  if (typeof option === 'string' || option instanceof Uint8Array) {
    return { activeKeyId: DEFAULT_KEY_ID, keys: new Map([[DEFAULT_KEY_ID, secretBytes(option, where)]]), ttlSeconds: DEFAULT_TTL_SECONDS };
  }
  if (option === null || typeof option !== 'object' || typeof option.keys !== 'object' || option.keys === null) {
    configError(where, 'must be a secret or { keys, activeKeyId }');
  }
  const keys = new Map<string, Buffer>();
  for (const [id, secret] of Object.entries(option.keys)) {
    if (!KEY_ID.test(id)) configError(`${where}.keys`, `id "${id}" must match ${KEY_ID}`);
    keys.set(id, secretBytes(secret, `${where}.keys.${id}`));
  }
  if (!keys.has(option.activeKeyId)) {
    configError(`${where}.activeKeyId`, `"${String(option.activeKeyId)}" is not among the keys`);
  }
  const ttl = option.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) configError(`${where}.ttlSeconds`, 'must be a positive integer');
  return { activeKeyId: option.activeKeyId, keys, ttlSeconds: ttl };
}

/** The keyring `init` installed for the process, if any: what hops use when an adapter names none. */
export function initKeyring(): SigningKeyring | undefined {
  const keyring = sharedState().signing;
  return isKeyring(keyring) ? keyring : undefined;
}

function isKeyring(value: unknown): value is SigningKeyring {
  return typeof value === 'object' && value !== null && (value as SigningKeyring).keys instanceof Map;
}

function mac(secret: Buffer, keyId: string, expiry: number, entry: SessionEntry): Buffer {
  // Everything a rejoining hop relies on is covered, so a tampered root span id fails too. Only
  // the decoded session fields: no audience, no traceparent, so an entry passed on by a service
  // in another language stays verifiable. The price: whoever saw an entry can replay it, until
  // it expires, to any service that trusts the key (docs/http.md, "Signed sessions").
  const flags = entry.traceFlags === undefined ? '' : String(entry.traceFlags);
  const input = `${VERSION}|${keyId}|${expiry}|${entry.sessionId}|${entry.rootSpanId ?? ''}|${flags}`;
  return createHmac('sha256', secret).update(input).digest();
}

/** The `sig` property value for an entry: `v1.<kid>.<expiry>.<base64url mac>`. */
export function signSessionEntry(entry: SessionEntry, keyring: SigningKeyring, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const secret = keyring.keys.get(keyring.activeKeyId)!;
  const expiry = nowSeconds + keyring.ttlSeconds;
  return `${VERSION}.${keyring.activeKeyId}.${expiry}.${mac(secret, keyring.activeKeyId, expiry, entry).toString('base64url')}`;
}

/**
 * What a signature says regardless of the time: malformed, an unknown key, a MAC that does not
 * match, or a matching MAC with its expiry.
 */
type StaticVerdict = { verdict: 'malformed' | 'unknown-key' | 'forged' } | { verdict: 'matches'; expiry: number };

/**
 * Static verdicts made recently, per keyring, by signature and signed fields: every hop of a
 * session receives the same signed entry again until its sender re-signs, and an HMAC per request
 * is most of a signed hop's cost. The answer depends only on the keys: keyed by the keyring, two
 * keyrings sharing a key id never share an answer. Failures are remembered too; a flood of
 * forgeries only evicts older answers, which are then computed again. Expiry is checked on every
 * call.
 */
const staticVerdicts = new WeakMap<SigningKeyring, BoundedCache<string, StaticVerdict>>();
const VERDICTS_PER_KEYRING = 10_000;

/**
 * The same answers by entry object, per keyring, for frozen entries (the session module's parsed
 * entries, the same object for every hop that receives the same header): their fields cannot
 * change, so no key string is built and hashed.
 */
const verdictsByEntry = new WeakMap<SigningKeyring, WeakMap<SessionEntry, StaticVerdict>>();

function staticVerdict(entry: SessionEntry, keyring: SigningKeyring, sig: string): StaticVerdict {
  if (!Object.isFrozen(entry)) return verdictByFields(entry, keyring, sig);
  let byEntry = verdictsByEntry.get(keyring);
  let known = byEntry?.get(entry);
  if (known !== undefined) return known;
  known = verdictByFields(entry, keyring, sig);
  if (byEntry === undefined) {
    byEntry = new WeakMap();
    verdictsByEntry.set(keyring, byEntry);
  }
  byEntry.set(entry, known);
  return known;
}

function verdictByFields(entry: SessionEntry, keyring: SigningKeyring, sig: string): StaticVerdict {
  let cache = staticVerdicts.get(keyring);
  if (cache === undefined) {
    cache = new BoundedCache(VERDICTS_PER_KEYRING);
    staticVerdicts.set(keyring, cache);
  }
  const key = `${sig}|${entry.sessionId}|${entry.rootSpanId ?? ''}|${entry.traceFlags ?? ''}`;
  let known = cache.get(key);
  if (known === undefined) {
    known = checkSignature(entry, keyring, sig);
    cache.set(key, known);
  }
  return known;
}

function checkSignature(entry: SessionEntry, keyring: SigningKeyring, sig: string): StaticVerdict {
  const parts = sig.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return { verdict: 'malformed' };
  const [, keyId, expiryText, macText] = parts as [string, string, string, string];
  // Canonical decimal only: `001796537930` would verify like `1796537930` (the MAC covers the
  // number), giving one signature several spellings.
  if (!CANONICAL_EXPIRY.test(expiryText) || !/^[A-Za-z0-9_-]{43}$/.test(macText)) return { verdict: 'malformed' };
  const secret = keyring.keys.get(keyId);
  if (secret === undefined) return { verdict: 'unknown-key' };
  const expiry = Number(expiryText);
  // Compared as text: the last of 43 base64url characters carries two unused bits, so decoding
  // would accept four spellings of one MAC. Only the canonical one is the signature.
  const expected = Buffer.from(mac(secret, keyId, expiry, entry).toString('base64url'), 'latin1');
  const given = Buffer.from(macText, 'latin1');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { verdict: 'forged' };
  return { verdict: 'matches', expiry };
}

/** Checks an inbound entry's signature against every key of the keyring. */
export function verifySessionEntry(
  entry: SessionEntry,
  keyring: SigningKeyring,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureVerdict {
  const sig = entry.signature;
  if (sig === undefined) return 'unsigned';
  const checked = staticVerdict(entry, keyring, sig);
  if (checked.verdict !== 'matches') return checked.verdict;
  const expiry = checked.expiry;
  // Checked after the MAC so that an attacker learns nothing from the expiry verdict.
  if (expiry + MAX_SKEW_SECONDS < nowSeconds) return 'expired';
  // No signer of this deployment issues more than a lifetime ahead: a far expiry (a key of the
  // ring misused, a signer with a wrong clock) would make the entry replayable for years.
  if (expiry > nowSeconds + keyring.ttlSeconds + MAX_SKEW_SECONDS) return 'beyond-lifetime';
  return 'valid';
}
