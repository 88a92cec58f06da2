/**
 * The callers' sessions the HTTP load carries (files read by bench/lua/sessions.lua): N sessions,
 * each a trace id and its baggage session entry
 * `agentops.session.id=<id>,agentops.session.root=<16 hex>,agentops.session.flags=<ff>`
 * (the session id is the session's trace id). Three sets:
 *
 * - plain: sampled callers (flags 03), unsigned entries;
 * - unsampled: the same callers with flags 00 (the parent-based sampler records nothing);
 * - signed: entries signed with the bench's key, made by the library itself in a child
 *   (scenarios/signed-sessions.ts: init({ signingKey }) + injectSessionHeaders), so the bench
 *   never re-implements the signature format.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToEnd } from './child.js';

const HEADER_SETS = ['plain', 'unsampled', 'signed'] as const;
export type HeaderSet = (typeof HEADER_SETS)[number];

/** One session as a caller sends it. */
interface CallerSession {
  traceId: string;
  flags: string;
  baggage: string;
}

function randomSessions(n: number, flags: string): CallerSession[] {
  return Array.from({ length: n }, () => {
    const traceId = randomBytes(16).toString('hex');
    return {
      traceId,
      flags,
      baggage: `agentops.session.id=${traceId},agentops.session.root=${randomBytes(8).toString('hex')},agentops.session.flags=${flags}`,
    };
  });
}

async function signedSessions(n: number, node: string, build: string): Promise<CallerSession[]> {
  const out = await runToEnd({ node, script: 'bench/scenarios/signed-sessions.ts', args: [String(n)], build }, 60_000);
  return JSON.parse(out.trim().split('\n').pop() as string) as CallerSession[];
}

/** Writes the three sets' files; returns their paths. */
export async function writeSessionFiles(n: number, node: string, build: string): Promise<Record<HeaderSet, string>> {
  const dir = join(tmpdir(), `agentops-bench-sessions-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const sets: Record<HeaderSet, CallerSession[]> = {
    plain: randomSessions(n, '03'),
    unsampled: randomSessions(n, '00'),
    signed: await signedSessions(n, node, build),
  };
  const paths = {} as Record<HeaderSet, string>;
  for (const set of HEADER_SETS) {
    paths[set] = join(dir, `${set}.tsv`);
    writeFileSync(paths[set], sets[set].map((s) => `${s.traceId}\t${s.flags}\t${s.baggage}\n`).join(''));
  }
  return paths;
}
