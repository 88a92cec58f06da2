/**
 * The AgentOps bearer token: the API key is exchanged for it, and it is renewed before it
 * expires (from the token's own `exp` claim when it is a JWT, else after a configured lifetime)
 * and at once after the backend refused it (401/403). Exports never wait on a failing exchange
 * and never see its error: a failure is counted and logged, and the export goes out with the
 * token it has (or none), to be refused and counted there.
 */
import { log } from '../base/diag.js';

/** Counters of the token handling. */
export interface TokenStats {
  /** Successful exchanges of the API key for a token. */
  renewals: number;
  /** Exchanges that failed (network, HTTP status, no token in the answer). */
  failures: number;
}

/** Renew this long before expiry, or a tenth of the lifetime when that is shorter. */
const RENEW_AHEAD_MS = 5 * 60_000;
/** After a failed exchange, the next try waits at least this long (exports keep going meanwhile). */
const RETRY_AFTER_MS = 5_000;

/** The expiry of a JWT in ms since the epoch, from its `exp` claim; undefined for anything else. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class AgentOpsToken {
  private readonly url: string;
  private token: string | undefined;
  private renewAt = 0;
  private expiresAt = 0;
  private retryAt = 0;
  private pending: Promise<void> | undefined;
  readonly counts: TokenStats = { renewals: 0, failures: 0 };

  constructor(
    private readonly apiKey: string,
    apiEndpoint: string,
    private readonly lifetimeMs: number,
  ) {
    this.url = `${apiEndpoint.replace(/\/+$/, '')}/v3/auth/token`;
  }

  /** The authorization header for the next export; renews first when due. Never rejects. */
  async headers(): Promise<Record<string, string>> {
    const now = Date.now();
    if ((this.token === undefined || now >= this.renewAt) && now >= this.retryAt) {
      this.pending ??= this.exchange().finally(() => (this.pending = undefined));
      // Without a usable token, wait for the exchange; with one that is only due for renewal,
      // send it while the renewal runs.
      if (this.token === undefined || now >= this.expiresAt) await this.pending;
    }
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }

  /** The backend refused the token (401/403): the next export exchanges the key again. */
  refused(): void {
    // retryAt stays: a refused export must not turn into one exchange per export while the
    // token endpoint itself is failing.
    this.renewAt = 0;
    this.expiresAt = 0;
  }

  private async exchange(): Promise<void> {
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api_key: this.apiKey }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { token?: unknown };
      if (typeof body.token !== 'string' || body.token.length === 0) throw new Error('answer without a token');
      const now = Date.now();
      const expiresAt = jwtExpiry(body.token) ?? now + this.lifetimeMs;
      const lifetime = Math.max(0, expiresAt - now);
      this.token = body.token;
      this.expiresAt = expiresAt;
      this.renewAt = expiresAt - Math.min(RENEW_AHEAD_MS, lifetime / 10);
      this.counts.renewals++;
    } catch (err) {
      this.counts.failures++;
      this.retryAt = Date.now() + RETRY_AFTER_MS;
      log.warn(`AgentOps token exchange failed (${this.counts.failures} so far); exports go on with the token held, if any`, err as Error);
    }
  }
}
