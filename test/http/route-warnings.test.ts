/**
 * The diag warnings for a route whose session middleware cannot apply its trust (issue 14): an
 * app-level sessionMiddleware() that makes a router-level one with another trust a no-op, and a
 * route stricter than the global extract that instrumentation-http's SERVER span started from.
 * Each is said once. Runs in a child (instrumentation-http patches node:http through require).
 */
import { describe, expect, it } from 'vitest';
import { helperPath, lastJson, runScript } from '../helpers/child.js';

let result: Promise<Record<string, string[]>> | undefined;
function warnings(): Promise<Record<string, string[]>> {
  result ??= runScript(helperPath('route-warnings.ts')).then((out) => {
    const found = lastJson<Record<string, string[]>>(out.stdout, 'warnings');
    if (found === undefined) throw new Error(`child failed (${String(out.code)}): ${out.stderr}`);
    return found;
  });
  return result;
}

describe('route trust the hop cannot apply', () => {
  it('middlewares that agree on trust, and a route as lenient as the global extract, warn nothing', async () => {
    const w = await warnings();
    expect(w['same trust']).toEqual([]);
    expect(w['lenient route']).toEqual([]);
  });

  it('an app-level sessionMiddleware() in front of a stricter router-level one: one warning naming both trust modes', async () => {
    const w = await warnings();
    expect(w['router stricter than app']).toHaveLength(1);
    expect(w['router stricter than app']![0]).toMatch(/second session middleware on \/r\/x would apply trust 'link'.*trust 'trust'/);
  });

  it('a route stricter than the global extract (instrumentation-http continued the caller): one warning naming publicPathPrefixes', async () => {
    const w = await warnings();
    expect(w['route stricter than global']).toHaveLength(1);
    expect(w['route stricter than global']![0]).toContain('does not trust its callers');
    expect(w['route stricter than global']![0]).toContain('publicPathPrefixes');
  });
});
